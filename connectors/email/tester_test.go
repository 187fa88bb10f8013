package email_test

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors/email"
	"github.com/switchyard/switchyard/connectors/internal/conntest"
)

// TestConnectionTest: the SMTP test connects, runs STARTTLS, signs in and
// quits, sending no message.
func TestConnectionTest(t *testing.T) {
	f := newFake(t, nil)
	conn := connFor(f, email.SecuritySTARTTLS)
	msg, err := conntest.TestConnection(t, email.ConnType, conn, "", password)
	if err != nil || !strings.HasPrefix(msg, "Works: connected to 127.0.0.1:"+f.port()+" (starttls) and signed in as "+user) {
		t.Fatalf("%q %v", msg, err)
	}
	if len(f.messages()) != 0 {
		t.Fatal("the test sent a message")
	}
	f.mu.Lock()
	cmds := strings.Join(f.commands, " ")
	f.mu.Unlock()
	if cmds != "EHLO STARTTLS EHLO AUTH QUIT" {
		t.Fatalf("commands %q", cmds)
	}
	// The fake echoes the credentials it got on failure; the test must not.
	bad := connFor(f, email.SecuritySTARTTLS)
	bad["password"] = "wrong-password-123"
	_, err = conntest.TestConnection(t, email.ConnType, bad, "", "wrong-password-123")
	if err == nil || !strings.Contains(err.Error(), "535") || !strings.Contains(err.Error(), "AUTH") {
		t.Fatalf("wrong password: %v", err)
	}
}
