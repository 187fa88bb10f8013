package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/switchyard/switchyard/internal/testlog"
)

// Browser tests drive Debian's Chromium, headless, against the real binary
// (see harness_test.go), as a new user would. They only ever browse
// 127.0.0.1.

const (
	// brWait bounds every single browser step: generous for a slow CI
	// machine, short enough that a broken page fails fast.
	brWait = 10 * time.Second
	// brWidth and brHeight are the viewport, a common laptop screen.
	brWidth, brHeight = 1280, 800
)

// brShotDir is where a test run writes its screenshots (ignored by git);
// docs/screenshots/ holds the checked-in set.
var brShotDir = filepath.Join("..", "..", "docs", "screenshots", "current")

// brCI reports whether the tests run in CI, where a missing browser is a
// failure and not a reason to skip.
func brCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "false" && v != "0"
}

// brChromium finds the browser: $SWITCHYARD_CHROMIUM, else Debian's
// chromium on the PATH (or a Chrome under another usual name).
func brChromium() string {
	if p := os.Getenv("SWITCHYARD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless Chromium with one tab, on one instance. It
// records every JavaScript dialog (and dismisses it) and every console
// error or uncaught exception, so a test can say nothing ran.
type browser struct {
	t   *testing.T
	in  *instance
	ctx context.Context // the tab
	out *testlog.Buffer // Chromium's own output, shown on failure

	mu       sync.Mutex
	dialogs  []string
	problems []string
	marker   string // the latest console marker seen, see noScriptRan
}

// needChromium returns the browser to run, or skips the test when there
// is none; with CI set a missing browser fails it instead. Tests call it
// first, before starting anything else.
func needChromium(t *testing.T) string {
	t.Helper()
	exe := brChromium()
	if exe == "" {
		if brCI() {
			t.Fatal("browser tests: no Chromium found and CI is set; install Debian's chromium (apt-get install chromium, as .ci/run does) or set SWITCHYARD_CHROMIUM")
		}
		t.Skip("browser tests skipped: no Chromium found (apt-get install chromium, or set SWITCHYARD_CHROMIUM); with CI=true this is a failure")
	}
	return exe
}

// newBrowser starts Chromium for the test (see needChromium) with a fresh
// profile, and opens a blank tab of 1280×800.
func newBrowser(t *testing.T, in *instance) *browser {
	t.Helper()
	exe := needChromium(t)
	b := &browser{t: t, in: in, out: &testlog.Buffer{}}
	profile := t.TempDir()
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(b.out),
	)
	ctx, cancel := chromedp.NewContext(actx)
	var wg sync.WaitGroup
	// Registered after t.TempDir, so it runs before the profile is removed.
	t.Cleanup(func() {
		if t.Failed() {
			b.dumpOnFailure()
		}
		cancel()
		acancel()
		wg.Wait()
	})
	// The first action starts the browser; it must not carry a timeout
	// (that would end the browser with it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium (%s): %v\n%s", exe, err, b.out.String())
	}
	b.ctx = ctx

	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	console := chromedp.Console(ctx)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, fmt.Sprintf("%s(%q) on %s", ev.Type, ev.Message, ev.URL))
			b.mu.Unlock()
			// A dialog blocks the page; dismiss it so the test goes on
			// and reports it.
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	go func() {
		defer wg.Done()
		for m, err := range console {
			if err != nil {
				return
			}
			b.mu.Lock()
			switch {
			case m.Type == chromedp.ConsoleError || m.IsException():
				b.problems = append(b.problems, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
			case strings.HasPrefix(m.Text, brMarkerPrefix):
				b.marker = m.Text
			}
			b.mu.Unlock()
		}
	}()
	b.do(chromedp.EmulateViewport(brWidth, brHeight))
	return b
}

// dumpOnFailure shows where the browser was and saves what it showed.
func (b *browser) dumpOnFailure() {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	b.t.Logf("browser was at %s", loc)
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		name := "failed-" + strings.NewReplacer("/", "-", " ", "_").Replace(b.t.Name()) + ".png"
		if os.MkdirAll(brShotDir, 0o755) == nil && os.WriteFile(filepath.Join(brShotDir, name), png, 0o644) == nil {
			b.t.Logf("screenshot of the failure: %s", filepath.Join(brShotDir, name))
		}
	}
	if txt, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`)); err == nil {
		b.t.Logf("page text:\n%s", clipText(txt, 3000))
	}
	b.t.Logf("dialogs: %q; console problems: %q", b.dialogList(), b.consoleProblems())
	var out []string
	for _, line := range strings.Split(b.out.String(), "\n") {
		// Chromium complains about the missing D-Bus of a container on
		// every start; that is noise.
		if line != "" && !strings.Contains(line, "dbus") {
			out = append(out, line)
		}
	}
	if len(out) > 0 {
		b.t.Logf("chromium output:\n%s", clipText(strings.Join(out, "\n"), 3000))
	}
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// step runs one action with the bounded wait.
func brRun[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, brWait)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// do runs actions in order, each bounded by brWait.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for i, s := range steps {
		brRun(b, fmt.Sprintf("step %d of %d", i+1, len(steps)), s)
	}
}

// open navigates to a path of the instance and waits for the load.
func (b *browser) open(path string) {
	b.t.Helper()
	brRun(b, "open "+path, chromedp.Navigate(b.in.url(path)))
}

// openLive opens a page whose live updates come over Server-Sent Events
// and returns once the browser has the stream's answer, so the server is
// subscribed and no later update can be missed.
func (b *browser) openLive(path string) {
	b.t.Helper()
	ev := brRun(b, "open "+path+" and its event stream", chromedp.WaitEvent(network.ResponseReceived,
		func(ev network.EventResponseReceived) bool {
			return ev.Response != nil && strings.Contains(ev.Response.URL, "/ui/events")
		}, chromedp.Navigate(b.in.url(path))))
	if ev.Response.Status != http.StatusOK || !strings.HasPrefix(ev.Response.MimeType, "text/event-stream") {
		b.t.Fatalf("event stream %s: status %d, type %q", ev.Response.URL, ev.Response.Status, ev.Response.MimeType)
	}
}

// visible waits until the element is visible.
func (b *browser) visible(sel string) {
	b.t.Helper()
	brRun(b, "wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// gone waits until no element matches.
func (b *browser) gone(sel string) {
	b.t.Helper()
	brRun(b, "wait for "+sel+" to go", chromedp.WaitNotPresent(chromedp.CSS(sel)))
}

// typeInto focuses a field and types text into it, key by key (so the
// page sees the key events a person makes).
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	brRun(b, "type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// click clicks the element, once it is visible and the page has settled.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.settled()
	brRun(b, "click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// brBusy matches what marks a page still moving under the pointer: an
// htmx request on its way (except the sample long poll, which waits for a
// webhook by design), a swap or settle under way, and a step just added
// that pictures.js has not yet scrolled to.
const brBusy = `.htmx-request:not([hx-post="/flows/sample/wait"]), .htmx-swapping, .htmx-settling, #builder-focus`

// settled waits until nothing matches brBusy. A click computes where its
// element is and then presses there; when a swap or a scroll lands in
// between, the press hits whatever moved there instead, and the click is
// lost (CI lost one after the builder scrolled to a new step).
func (b *browser) settled() {
	b.t.Helper()
	deadline := time.Now().Add(brWait)
	js := fmt.Sprintf(`!document.querySelector(%q)`, brBusy)
	for {
		// Evaluated afresh each time, not polled in the page: a click
		// before may have started a navigation, which destroys the
		// context a poll runs in; asked again, the new page answers.
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		idle, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && idle {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("browser: the page did not settle in %s (%v)", brWait, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clickFor clicks sel until what is visible, up to three clicks: a click
// that lands while the page swaps a part under it is lost (as a
// person's would be, and a person clicks again).
func (b *browser) clickFor(sel, what string) {
	b.t.Helper()
	for try := 1; ; try++ {
		b.click(sel)
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		_, err := chromedp.Run(ctx, chromedp.WaitVisible(chromedp.CSS(what)))
		cancel()
		if err == nil {
			return
		}
		if try == 3 {
			b.t.Fatalf("browser: %s did not show after three clicks on %s: %v", what, sel, err)
		}
	}
}

// choose picks an option of a select by its value.
func (b *browser) choose(sel, value string) {
	b.t.Helper()
	brRun(b, "choose "+value+" in "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
	if got := b.value(sel); got != value {
		b.t.Fatalf("%s: chose %q, has %q", sel, value, got)
	}
}

// text is the element's text as shown (innerText), once it exists.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return brRun(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// value is the value of a form field.
func (b *browser) value(sel string) string {
	b.t.Helper()
	return brRun(b, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// waitText waits until the element's text contains want (the page may
// swap it meanwhile) and returns the text.
func (b *browser) waitText(sel, want string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, brWait)
	defer cancel()
	txt, err := chromedp.Run(ctx, chromedp.PollFunction[string](`(sel, want) => {
		const el = document.querySelector(sel);
		return el && el.textContent.includes(want) ? el.textContent : "";
	}`, chromedp.WithPollingArgs(sel, want), chromedp.WithPollingTimeout(0), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		now, _ := chromedp.Run(context.WithoutCancel(b.ctx), chromedp.Evaluate[string](
			fmt.Sprintf(`(document.querySelector(%q) || {textContent: "(no such element)"}).textContent`, sel)))
		b.t.Fatalf("browser: %s never contained %q (%v); it has %q", sel, want, err, clipText(now, 500))
	}
	return txt
}

// eval evaluates a JavaScript expression in the page; promises are
// awaited.
func brEval[T any](b *browser, js string) T {
	b.t.Helper()
	return brRun(b, "evaluate "+clipText(js, 80), chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// brEvalVoid is an action that runs JavaScript for its effect.
func brEvalVoid(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](js)
}

// location is the page's URL.
func (b *browser) location() string {
	b.t.Helper()
	return brRun(b, "location", chromedp.Location())
}

// cookie is the value of one of the browser's cookies for the instance.
func (b *browser) cookie(name string) string {
	b.t.Helper()
	res := brRun(b, "cookies", func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.in.url("/")}})
	})
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	b.t.Fatalf("browser has no cookie %s", name)
	return ""
}

// screenshot saves what the viewport shows as PNG into brShotDir.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	return b.saveShot(name, chromedp.CaptureScreenshot())
}

// fullScreenshot saves the whole page, 1280 wide and as tall as it is.
func (b *browser) fullScreenshot(name string) string {
	b.t.Helper()
	return b.saveShot(name, chromedp.FullScreenshot(100))
}

// saveShot captures with shot and writes the picture under brShotDir.
// Chromium answers a capture only once its compositor has drawn a frame;
// on a CI machine busy with other test packages that once took longer
// than brWait on a page that was already shown (the runs search), so a
// capture gets three tries of twice brWait before the test fails.
func (b *browser) saveShot(name string, shot chromedp.Action[[]byte]) string {
	b.t.Helper()
	var png []byte
	var err error
	for try := 0; try < 3; try++ {
		ctx, cancel := context.WithTimeout(b.ctx, 2*brWait)
		png, err = chromedp.Run(ctx, shot)
		cancel()
		if err == nil || b.ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		b.t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(brShotDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(brShotDir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

func (b *browser) dialogList() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

func (b *browser) consoleProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

const brMarkerPrefix = "switchyard-test-marker-"

// noScriptRan fails the test if a dialog opened or the console showed an
// error or exception. Console messages arrive asynchronously, so it first
// writes a marker to the page's console and waits until the recorder has
// seen it: every earlier message has been recorded by then. (A dialog
// blocks the page until the recorder dismissed it, after recording it.)
func (b *browser) noScriptRan(where string) {
	b.t.Helper()
	marker := fmt.Sprintf("%s%d", brMarkerPrefix, time.Now().UnixNano())
	brRun(b, "console marker", chromedp.Evaluate[chromedp.Void](fmt.Sprintf("console.info(%q)", marker)))
	for deadline := time.Now().Add(brWait); ; time.Sleep(10 * time.Millisecond) {
		b.mu.Lock()
		seen := b.marker == marker
		b.mu.Unlock()
		if seen {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("browser: the console marker never came back")
		}
	}
	if d := b.dialogList(); len(d) > 0 {
		b.t.Errorf("%s: a script ran and opened dialogs: %q", where, d)
	}
	if p := b.consoleProblems(); len(p) > 0 {
		b.t.Errorf("%s: console errors: %q", where, p)
	}
}

// setUp completes the first-run setup page in the browser; it signs the
// owner in and lands on the flows list.
func (b *browser) setUp(user, password string) {
	b.t.Helper()
	b.open("/")
	b.visible("#setup-form")
	if loc := b.location(); !strings.HasSuffix(loc, "/setup") {
		b.t.Fatalf("a fresh instance led to %s, want /setup", loc)
	}
	b.typeInto("#setup-name", user)
	b.typeInto("#setup-password", password)
	b.typeInto("#setup-password2", password)
	b.click("#setup-submit")
	b.visible("#new-flow")
	if loc := b.location(); !strings.HasSuffix(loc, "/flows") {
		b.t.Fatalf("after setup the browser is at %s, want /flows", loc)
	}
	if got := b.text(".topbar .user"); got != user {
		b.t.Fatalf("signed in as %q, want %q", got, user)
	}
}

// hookJSON posts a JSON webhook and returns the run id of its 202.
func (in *instance) hookJSON(path string, body string) string {
	in.t.Helper()
	resp, data, err := in.hook(path, "application/json", []byte(body))
	if err != nil {
		in.t.Fatalf("POST /hooks/%s: %v", path, err)
	}
	if resp.StatusCode != http.StatusAccepted {
		in.t.Fatalf("POST /hooks/%s: status %d: %s", path, resp.StatusCode, data)
	}
	var ack struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal(data, &ack); err != nil || ack.RunID == "" {
		in.t.Fatalf("POST /hooks/%s: no run id in %s (%v)", path, data, err)
	}
	return ack.RunID
}

// waitRun waits until the run is final and returns it.
func (in *instance) waitRun(id string) runDetail {
	in.t.Helper()
	deadline := time.Now().Add(brWait)
	for {
		rd, _ := in.run(id)
		switch rd.Status {
		case "succeeded", "failed", "canceled", "skipped":
			return rd
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("run %s still %s after %s", id, rd.Status, brWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
