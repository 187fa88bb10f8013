package email_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/egress"
	"github.com/switchyard/switchyard/connectors/email"
)

// Tests only connect to 127.0.0.1, which the egress guard allows here.
var dial = egress.MustParseAllow("127.0.0.1/32").Dialer().DialContext

const (
	user     = "mailer@example.com"
	password = "s3cret-app-password-xyz"
)

// testCA is a self-signed certificate for 127.0.0.1, made once.
var testCA = sync.OnceValues(func() (tls.Certificate, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fake smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemCert
})

// recorded is one message the fake server accepted.
type recorded struct {
	From     string
	Rcpts    []string
	Data     string
	AuthUser string
	AuthMech string
	TLS      bool
}

// fakeSMTP is a small SMTP server: EHLO, STARTTLS, AUTH PLAIN/LOGIN, MAIL,
// RCPT, DATA, RSET, NOOP, QUIT.
type fakeSMTP struct {
	ln       net.Listener
	implicit bool   // TLS from the first byte
	starttls bool   // offer STARTTLS
	mechs    string // AUTH mechanisms offered once on TLS ("" for none)
	// fail makes the server answer the given verb ("GREETING", "MAIL",
	// "RCPT", "DATA" for the end of data, "AUTH") with reply.
	fail, reply string

	mu       sync.Mutex
	msgs     []recorded
	conns    int
	sawAuth  bool
	commands []string
}

func newFake(t *testing.T, configure func(*fakeSMTP)) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMTP{ln: ln, starttls: true, mechs: "PLAIN LOGIN"}
	if configure != nil {
		configure(f)
	}
	cert, _ := testCA()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
			go f.serve(c, cfg)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return f
}

func (f *fakeSMTP) port() string { return strconv.Itoa(f.ln.Addr().(*net.TCPAddr).Port) }

func (f *fakeSMTP) messages() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.msgs...)
}

func (f *fakeSMTP) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

func (f *fakeSMTP) serve(c net.Conn, cfg *tls.Config) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	secure := false
	if f.implicit {
		tc := tls.Server(c, cfg)
		if tc.Handshake() != nil {
			return
		}
		c, secure = tc, true
	}
	tp := textproto.NewConn(c)
	say := func(format string, args ...any) { tp.PrintfLine(format, args...) }
	if f.fail == "GREETING" {
		say("%s", f.reply)
		return
	}
	say("220 fake.test ESMTP ready")
	var cur recorded
	authed := ""
	mech := ""
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		f.mu.Lock()
		f.commands = append(f.commands, verb)
		f.mu.Unlock()
		switch verb {
		case "EHLO", "HELO":
			lines := []string{"fake.test greets " + arg}
			if f.starttls && !secure {
				lines = append(lines, "STARTTLS")
			}
			if f.mechs != "" && secure {
				lines = append(lines, "AUTH "+f.mechs)
			}
			lines = append(lines, "8BITMIME", "SIZE 10240000")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				say("250%s%s", sep, l)
			}
		case "STARTTLS":
			say("220 2.0.0 go ahead")
			tc := tls.Server(c, cfg)
			if tc.Handshake() != nil {
				return
			}
			c, secure = tc, true
			tp = textproto.NewConn(c)
		case "AUTH":
			f.mu.Lock()
			f.sawAuth = true
			f.mu.Unlock()
			mech, initial, _ := strings.Cut(arg, " ")
			var u, p string
			switch strings.ToUpper(mech) {
			case "PLAIN":
				raw, _ := base64.StdEncoding.DecodeString(initial)
				parts := strings.Split(string(raw), "\x00")
				if len(parts) == 3 {
					u, p = parts[1], parts[2]
				}
			case "LOGIN":
				say("334 %s", base64.StdEncoding.EncodeToString([]byte("Username:")))
				l1, _ := tp.ReadLine()
				say("334 %s", base64.StdEncoding.EncodeToString([]byte("Password:")))
				l2, _ := tp.ReadLine()
				ub, _ := base64.StdEncoding.DecodeString(l1)
				pb, _ := base64.StdEncoding.DecodeString(l2)
				u, p = string(ub), string(pb)
			}
			if f.fail == "AUTH" || u != user || p != password {
				// Some servers echo what they got; the step must not.
				say("535 5.7.8 authentication failed for %s/%s", u, p)
				continue
			}
			authed = u
			cur.AuthMech = strings.ToUpper(mech)
			say("235 2.7.0 accepted")
		case "MAIL":
			if f.fail == "MAIL" {
				say("%s", f.reply)
				continue
			}
			cur = recorded{From: strings.TrimSuffix(strings.TrimPrefix(strings.Fields(arg)[0], "FROM:<"), ">"),
				AuthUser: authed, AuthMech: cur.AuthMech, TLS: secure}
			say("250 2.1.0 ok")
		case "RCPT":
			if f.fail == "RCPT" {
				say("%s", f.reply)
				continue
			}
			cur.Rcpts = append(cur.Rcpts, strings.TrimSuffix(strings.TrimPrefix(arg, "TO:<"), ">"))
			say("250 2.1.5 ok")
		case "DATA":
			say("354 end with <CRLF>.<CRLF>")
			data, err := readData(tp.R)
			if err != nil {
				return
			}
			if f.fail == "DATA" {
				say("%s", f.reply)
				continue
			}
			cur.Data = string(data)
			f.mu.Lock()
			f.msgs = append(f.msgs, cur)
			f.mu.Unlock()
			say("250 2.0.0 queued as 42")
		case "RSET", "NOOP":
			say("250 2.0.0 ok")
		case "QUIT":
			say("221 2.0.0 bye")
			return
		default:
			say("502 5.5.2 unknown command")
		}
		_ = mech
	}
}

// readData reads a DATA payload up to the lone dot, keeping the CRLF line
// endings (textproto's ReadDotBytes would turn them into LF) and undoing
// dot-stuffing. A line not ending in CRLF is an error.
func readData(r *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(line, "\r\n") {
			return nil, fmt.Errorf("bare LF in DATA: %q", line)
		}
		if line == ".\r\n" {
			return out, nil
		}
		out = append(out, strings.TrimPrefix(line, ".")...)
	}
}

func connFor(f *fakeSMTP, security string) map[string]string {
	_, caPEM := testCA()
	return map[string]string{
		"host": "127.0.0.1", "port": f.port(), "security": security,
		"username": user, "password": password, "from": "Shop <orders@example.com>",
		"tls_ca_pem": caPEM,
	}
}

func send(t *testing.T, cfg map[string]any, conn map[string]string, dry bool) (connectors.Result, error) {
	t.Helper()
	c, err := connectors.Lookup(email.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c.Execute(context.Background(), connectors.Input{
		Config: cfg, Connection: conn, Dial: dial, DryRun: dry,
		RunID: "run1", StepID: "mail", IdempotencyKey: "run1:mail", Attempt: 1,
	})
}

const subject = "Bestellung bestätigt – Ihre Nummer ist 42 ✓"

func fullConfig() map[string]any {
	return map[string]any{
		"connection": "smtp",
		"to":         "Ada Lovelace <ada@example.com>, bob@example.com",
		"cc":         []any{"Zoë Ärger <zoe@example.com>"},
		"bcc":        "audit@example.com",
		"reply_to":   "support@example.com",
		"subject":    subject,
		"text":       "Hello Ada,\nyour order is confirmed.\nTotal: 42 €\n.\nA line that is rather long, to see that quoted-printable soft line breaks keep the body intact when it is read back again.",
		"html":       "<p>Hello Ada,</p><p>your order is <b>confirmed</b>. Total: 42&nbsp;€</p>",
	}
}

func TestSendSTARTTLS(t *testing.T) {
	f := newFake(t, nil)
	res, err := send(t, fullConfig(), connFor(f, "starttls"), false)
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	got := msgs[0]
	if !got.TLS || got.AuthUser != user || got.AuthMech != "PLAIN" {
		t.Errorf("tls %v, auth %q %q", got.TLS, got.AuthUser, got.AuthMech)
	}
	if got.From != "orders@example.com" {
		t.Errorf("MAIL FROM %q", got.From)
	}
	wantRcpts := []string{"ada@example.com", "bob@example.com", "zoe@example.com", "audit@example.com"}
	if strings.Join(got.Rcpts, ",") != strings.Join(wantRcpts, ",") {
		t.Errorf("RCPT TO %v, want %v", got.Rcpts, wantRcpts)
	}

	msg, err := mail.ReadMessage(strings.NewReader(got.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	dec := new(mime.WordDecoder)
	check := func(name, want string) {
		t.Helper()
		v, err := dec.DecodeHeader(h.Get(name))
		if err != nil || v != want {
			t.Errorf("%s = %q (%v), want %q", name, v, err, want)
		}
	}
	check("From", `"Shop" <orders@example.com>`)
	check("To", `"Ada Lovelace" <ada@example.com>, <bob@example.com>`)
	check("Cc", `Zoë Ärger <zoe@example.com>`)
	check("Reply-To", `<support@example.com>`)
	check("Subject", subject)
	check("MIME-Version", "1.0")
	if raw := h.Get("Subject"); !strings.HasPrefix(raw, "=?utf-8?q?") {
		t.Errorf("Subject not an encoded-word: %q", raw)
	}
	if h.Get("Bcc") != "" || strings.Contains(got.Data, "audit@example.com") {
		t.Error("Bcc shows in the message")
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	id := h.Get("Message-ID")
	if !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID = %q", id)
	}
	for _, line := range strings.Split(got.Data, "\r\n") {
		if len(line) > 998 {
			t.Errorf("line longer than 998: %d", len(line))
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Error("bare CR or LF in message")
		}
	}

	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q", h.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	cfg := fullConfig()
	for i, want := range []struct{ typ, body string }{{"text/plain", cfg["text"].(string)}, {"text/html", cfg["html"].(string)}} {
		p, err := mr.NextRawPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if ct := p.Header.Get("Content-Type"); ct != want.typ+"; charset=utf-8" {
			t.Errorf("part %d Content-Type = %q", i, ct)
		}
		if cte := p.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("part %d Content-Transfer-Encoding = %q", i, cte)
		}
		raw, _ := io.ReadAll(p)
		body, err := io.ReadAll(quotedPrintable(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != want.body {
			t.Errorf("part %d body = %q, want %q", i, got, want.body)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("more than two parts: %v", err)
	}

	out := res.Output.(map[string]any)
	if out["message_id"] != id {
		t.Errorf("output message_id = %v, header %v", out["message_id"], id)
	}
	if fmt.Sprint(out["accepted"]) != fmt.Sprint(wantRcpts) {
		t.Errorf("accepted = %v", out["accepted"])
	}
	b, _ := json.Marshal(out)
	if strings.Contains(string(b), password) {
		t.Error("output holds the password")
	}

	// A retry of the same step sends the same Message-ID.
	if _, err := send(t, fullConfig(), connFor(f, "starttls"), false); err != nil {
		t.Fatal(err)
	}
	again, _ := mail.ReadMessage(strings.NewReader(f.messages()[1].Data))
	if again.Header.Get("Message-ID") != id {
		t.Errorf("retry Message-ID %q != %q", again.Header.Get("Message-ID"), id)
	}
}

func quotedPrintable(raw []byte) io.Reader {
	return quotedprintable.NewReader(strings.NewReader(string(raw)))
}

func TestImplicitTLSAndLogin(t *testing.T) {
	f := newFake(t, func(f *fakeSMTP) { f.implicit, f.starttls, f.mechs = true, false, "LOGIN" })
	cfg := map[string]any{"connection": "smtp", "to": []any{"ada@example.com"}, "subject": "Hi", "html": "<p>Hi</p>", "from": "me@example.org"}
	res, err := send(t, cfg, connFor(f, "tls"), false)
	if err != nil {
		t.Fatal(err)
	}
	got := f.messages()[0]
	if !got.TLS || got.AuthMech != "LOGIN" || got.AuthUser != user || got.From != "me@example.org" {
		t.Errorf("recorded %+v", got)
	}
	msg, _ := mail.ReadMessage(strings.NewReader(got.Data))
	if ct := msg.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if !strings.HasSuffix(res.Output.(map[string]any)["message_id"].(string), "@example.org>") {
		t.Errorf("message_id = %v", res.Output)
	}
}

func TestPlainRelay(t *testing.T) {
	f := newFake(t, func(f *fakeSMTP) { f.starttls, f.mechs = false, "" })
	conn := connFor(f, "none")
	delete(conn, "username")
	delete(conn, "password")
	if _, err := send(t, map[string]any{"to": "ada@example.com", "subject": "Plain", "text": "just text"}, conn, false); err != nil {
		t.Fatal(err)
	}
	got := f.messages()[0]
	if got.TLS || got.AuthUser != "" {
		t.Errorf("recorded %+v", got)
	}
	msg, _ := mail.ReadMessage(strings.NewReader(got.Data))
	if msg.Header.Get("Content-Type") != "text/plain; charset=utf-8" || msg.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Errorf("headers %v", msg.Header)
	}
	if msg.Header.Get("Subject") != "Plain" {
		t.Errorf("ASCII subject encoded: %q", msg.Header.Get("Subject"))
	}
}

func TestCredentialsNeverInPlainText(t *testing.T) {
	t.Run("security none with credentials", func(t *testing.T) {
		f := newFake(t, nil)
		_, err := send(t, fullConfig(), connFor(f, "none"), false)
		if err == nil || !strings.Contains(err.Error(), "unencrypted") {
			t.Fatalf("err = %v", err)
		}
		if retry, _ := connectors.IsRetryable(err); retry {
			t.Error("retryable")
		}
		if f.connections() != 0 {
			t.Error("connected although the config is refused")
		}
	})
	t.Run("server without STARTTLS", func(t *testing.T) {
		f := newFake(t, func(f *fakeSMTP) { f.starttls = false })
		_, err := send(t, fullConfig(), connFor(f, "starttls"), false)
		if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
			t.Fatalf("err = %v", err)
		}
		if retry, _ := connectors.IsRetryable(err); retry {
			t.Error("retryable")
		}
		if f.sawAuth || len(f.messages()) != 0 {
			t.Error("credentials or message sent without TLS")
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		f := newFake(t, nil)
		conn := connFor(f, "starttls")
		delete(conn, "tls_ca_pem")
		_, err := send(t, fullConfig(), conn, false)
		if err == nil {
			t.Fatal("no error")
		}
		if retry, _ := connectors.IsRetryable(err); retry {
			t.Errorf("certificate failure retryable: %v", err)
		}
		if f.sawAuth {
			t.Error("credentials sent to an unverified server")
		}
	})
}

func TestSMTPErrors(t *testing.T) {
	tests := []struct {
		name      string
		fail      string
		reply     string
		retryable bool
		contains  string
	}{
		{"greeting 421", "GREETING", "421 4.3.2 service not available, try later", true, "421 4.3.2 service not available"},
		{"mail 451", "MAIL", "451 4.7.1 greylisted, come back later", true, "greylisted"},
		{"rcpt 450", "RCPT", "450 4.2.1 mailbox busy", true, "mailbox busy"},
		{"rcpt 550", "RCPT", "550 5.1.1 <ada@example.com>: user unknown", false, "550 5.1.1 <ada@example.com>: user unknown"},
		{"data 554", "DATA", "554 5.7.1 message rejected as spam", false, "rejected as spam"},
		{"auth 535", "AUTH", "", false, "535 5.7.8 authentication failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(f *fakeSMTP) { f.fail, f.reply = tt.fail, tt.reply })
			_, err := send(t, fullConfig(), connFor(f, "starttls"), false)
			if err == nil {
				t.Fatal("no error")
			}
			if retry, _ := connectors.IsRetryable(err); retry != tt.retryable {
				t.Errorf("retryable = %v, want %v: %v", retry, tt.retryable, err)
			}
			if !strings.Contains(err.Error(), tt.contains) || !strings.HasPrefix(err.Error(), "email.send: ") {
				t.Errorf("error %q lacks %q", err, tt.contains)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestNetworkErrors(t *testing.T) {
	// Nothing listens on a closed listener's port: connection refused.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	_, caPEM := testCA()
	conn := map[string]string{"host": "127.0.0.1", "port": port, "username": user, "password": password, "from": "a@example.com", "tls_ca_pem": caPEM}
	_, err := send(t, fullConfig(), conn, false)
	if err == nil {
		t.Fatal("no error")
	}
	if retry, _ := connectors.IsRetryable(err); !retry {
		t.Errorf("connection refused not retryable: %v", err)
	}

	// The egress policy applies: loopback is refused by default.
	c, _ := connectors.Lookup(email.ID)
	_, err = c.Execute(context.Background(), connectors.Input{
		Config: fullConfig(), Connection: conn,
		Dial: egress.MustParseAllow("").Dialer().DialContext,
	})
	if !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("err = %v, want an egress refusal", err)
	}
	if retry, _ := connectors.IsRetryable(err); retry {
		t.Error("egress refusal retryable")
	}

	// A server that never answers runs into the step timeout.
	silent, _ := net.Listen("tcp", "127.0.0.1:0")
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	conn["port"] = strconv.Itoa(silent.Addr().(*net.TCPAddr).Port)
	cfg := fullConfig()
	cfg["timeout"] = "300ms"
	start := time.Now()
	_, err = send(t, cfg, conn, false)
	if err == nil {
		t.Fatal("no error")
	}
	if retry, _ := connectors.IsRetryable(err); !retry {
		t.Errorf("timeout not retryable: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestDryRun(t *testing.T) {
	f := newFake(t, nil)
	res, err := send(t, fullConfig(), connFor(f, "starttls"), true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res.Output)
	if strings.Contains(string(b), password) {
		t.Errorf("dry run leaks the password: %s", b)
	}
	for _, s := range []string{`"dry_run":true`, `"server":"127.0.0.1:` + f.port(), `"message_id":"\u003c`, "audit@example.com"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("dry run %s lacks %s", b, s)
		}
	}
	if f.connections() != 0 {
		t.Error("dry run connected")
	}
}

func TestConfigErrors(t *testing.T) {
	f := newFake(t, nil)
	base := connFor(f, "starttls")
	tests := []struct {
		name string
		cfg  func(map[string]any)
		conn func(map[string]string)
		want string
	}{
		{"no to", func(c map[string]any) { delete(c, "to") }, nil, `"to": required`},
		{"bad to", func(c map[string]any) { c["to"] = "not an address" }, nil, `"to"`},
		{"no subject", func(c map[string]any) { c["subject"] = "  " }, nil, `"subject": required`},
		{"no body", func(c map[string]any) { delete(c, "text"); delete(c, "html") }, nil, "text body, an HTML body or both"},
		{"no from", nil, func(c map[string]string) { delete(c, "from") }, `"from": required`},
		{"bad from", func(c map[string]any) { c["from"] = "me@" }, nil, `"from"`},
		{"no connection", nil, func(c map[string]string) { clear(c) }, "name a connection"},
		{"bad port", nil, func(c map[string]string) { c["port"] = "smtp" }, "not a port number"},
		{"bad security", nil, func(c map[string]string) { c["security"] = "ssl3" }, "not one of"},
		{"bad pem", nil, func(c map[string]string) { c["tls_ca_pem"] = "nope" }, "no PEM certificate"},
		{"host with scheme", nil, func(c map[string]string) { c["host"] = "smtp://mail.example.com" }, "without scheme or port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fullConfig()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			conn := map[string]string{}
			for k, v := range base {
				conn[k] = v
			}
			if tt.conn != nil {
				tt.conn(conn)
			}
			_, err := send(t, cfg, conn, false)
			if err == nil {
				t.Fatal("no error")
			}
			if retry, _ := connectors.IsRetryable(err); retry {
				t.Errorf("retryable: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Error("error leaks the password")
			}
		})
	}
	if f.connections() != 0 {
		t.Error("config errors connected")
	}
}

func TestSpec(t *testing.T) {
	c, _ := connectors.Lookup(email.ID)
	s := c.Spec()
	if s.Category != "Email" || !s.SideEffects {
		t.Errorf("spec %+v", s)
	}
	for _, f := range s.Fields {
		if f.Help == "" {
			t.Errorf("field %s lacks help", f.Name)
		}
	}
	ct, err := connectors.LookupConnectionType(email.ConnType)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ct.Fields {
		if f.Help == "" {
			t.Errorf("connection field %s lacks help", f.Name)
		}
		if (f.Name == "password") != (f.Type == connectors.TypeSecret) {
			t.Errorf("field %s type %s", f.Name, f.Type)
		}
	}
}
