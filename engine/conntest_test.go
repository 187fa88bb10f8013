package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors"
)

// echoType is a connection type whose test repeats its secret back, as a
// careless tester or a service echoing a credential would.
const echoType = "test_echo"

func init() {
	connectors.RegisterConnectionType(connectors.ConnectionType{ID: echoType, Label: "echo",
		Fields: []connectors.Field{
			{Name: "user", Label: "User", Type: connectors.TypeString},
			{Name: "key", Label: "Key", Type: connectors.TypeSecret, Required: true},
		}})
	connectors.RegisterTester(echoType, false, "echoes", connectors.TesterFunc(func(_ context.Context, in connectors.TestInput) (string, error) {
		if in.HTTP == nil || in.Dial == nil {
			return "", errors.New("no egress client")
		}
		if in.Values["key"] == "good-key-secret" {
			return "signed in as " + in.Values["user"] + " with " + in.Values["key"], nil
		}
		return "", errors.New("refused key " + in.Values["key"])
	}))
}

// TestTestConnection: the engine runs a type's tester with the egress
// client and hides the secret in whatever the tester says.
func TestTestConnection(t *testing.T) {
	te := startEngine(t, "", Config{})
	ctx := context.Background()
	for name, key := range map[string]string{"good": "good-key-secret", "bad": "bad-key-secret"} {
		if _, err := te.PutConnection(ctx, name, echoType, map[string]string{"user": "ada", "key": key}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := te.PutConnection(ctx, "sig", "secret", map[string]string{"value": "v"}); err != nil {
		t.Fatal(err)
	}
	res, err := te.TestConnection(ctx, "good", "")
	if err != nil || !res.OK || res.Message != "signed in as ada with "+connectors.Redacted {
		t.Fatalf("good: %+v %v", res, err)
	}
	res, err = te.TestConnection(ctx, "bad", "")
	if err != nil || res.OK || res.Message != "Does not work: refused key "+connectors.Redacted {
		t.Fatalf("bad: %+v %v", res, err)
	}
	res, err = te.TestConnection(ctx, "sig", "")
	if err != nil || res.OK || !strings.Contains(res.Message, "have no test") {
		t.Fatalf("untestable: %+v %v", res, err)
	}
	if _, err := te.TestConnection(ctx, "nope", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}
