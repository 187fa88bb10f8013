package connectors

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Tester is what a connection type implements, optionally, so that a user
// can check a connection before a flow uses it: one harmless request to
// the service (Slack's auth.test, an account-info read, a token request,
// an SMTP sign-in) that changes nothing there.
type Tester interface {
	// TestConnection checks in.Values against the service. It returns a
	// plain sentence saying what worked ("Signed in to Slack workspace
	// Acme as switchyard."), or an error saying plainly what did not.
	// Neither may hold a secret value; the caller scrubs them too.
	TestConnection(ctx context.Context, in TestInput) (string, error)
}

// TestInput is what a connection test gets.
type TestInput struct {
	// Values are the connection's decrypted values.
	Values map[string]string
	// URL is the address to try the connection against, for generic
	// types (bearer, basic, header) that have no service of their own.
	URL string
	// HTTP and Dial are the egress-guarded client and dialer steps use.
	HTTP *http.Client
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// TestTimeout bounds one connection test.
const TestTimeout = 15 * time.Second

// testerInfo is a registered tester, whether it needs a URL and what it
// calls.
type testerInfo struct {
	t        Tester
	needsURL bool
	help     string
}

var (
	testerMu sync.RWMutex
	testers  = map[string]testerInfo{}
)

// RegisterTester makes connections of type typ testable. needsURL says the
// test needs a URL from the user (TestInput.URL); help says what the test
// calls, for the docs and the UI. It panics on a duplicate, like Register.
func RegisterTester(typ string, needsURL bool, help string, t Tester) {
	testerMu.Lock()
	defer testerMu.Unlock()
	if _, dup := testers[typ]; dup {
		panic(fmt.Sprintf("connectors: register tester for %q: duplicate", typ))
	}
	testers[typ] = testerInfo{t: t, needsURL: needsURL, help: help}
}

// LookupTester returns the tester of a connection type, whether there is
// one, and whether it needs a URL.
func LookupTester(typ string) (t Tester, ok, needsURL bool) {
	testerMu.RLock()
	defer testerMu.RUnlock()
	ti, ok := testers[typ]
	return ti.t, ok, ti.needsURL
}

// withTest fills in what a connection type says about its test.
func withTest(t ConnectionType) ConnectionType {
	testerMu.RLock()
	defer testerMu.RUnlock()
	ti, ok := testers[t.ID]
	t.Testable, t.TestNeedsURL, t.TestHelp = ok, ti.needsURL, ti.help
	return t
}

// TesterFunc adapts a function to Tester.
type TesterFunc func(ctx context.Context, in TestInput) (string, error)

// TestConnection implements Tester.
func (f TesterFunc) TestConnection(ctx context.Context, in TestInput) (string, error) {
	return f(ctx, in)
}
