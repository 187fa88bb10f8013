package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/connectors"
)

// ConnectionTest is what testing a connection found.
type ConnectionTest struct {
	// OK is true when the service accepted the connection.
	OK bool `json:"ok"`
	// Message says plainly what worked or what did not; it never holds a
	// secret value of the connection.
	Message string `json:"message"`
}

// TestConnection checks a stored connection against its service with its
// type's connectors.Tester: one harmless request through the egress
// policy steps use. url is the address generic types (bearer, basic,
// header) are tried against. A type without a tester is not OK and says
// so. A missing connection is ErrNotFound.
func (e *Engine) TestConnection(ctx context.Context, name, url string) (ConnectionTest, error) {
	rec, err := e.store.Connection(ctx, name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return ConnectionTest{}, fmt.Errorf("engine: test connection %q: %w", name, ErrNotFound)
		}
		return ConnectionTest{}, err
	}
	vals, err := e.open(rec)
	if err != nil {
		return ConnectionTest{Message: "The connection cannot be read: " + err.Error()}, nil
	}
	t, ok, needsURL := connectors.LookupTester(rec.Type)
	if !ok {
		return ConnectionTest{Message: fmt.Sprintf("Connections of type %s have no test: a flow's run shows whether they work.", rec.Type)}, nil
	}
	if !needsURL {
		url = ""
	}
	ctx, cancel := context.WithTimeout(ctx, connectors.TestTimeout)
	defer cancel()
	cv := ConnectionValues{Type: rec.Type, Values: vals}
	secrets := make([]string, 0, len(vals))
	for _, v := range cv.Secret() {
		secrets = append(secrets, v)
	}
	msg, err := t.TestConnection(ctx, connectors.TestInput{Values: vals, URL: url, HTTP: e.cfg.HTTP, Dial: e.cfg.Dial})
	if err != nil {
		return ConnectionTest{Message: "Does not work: " + connectors.Scrub(err, secrets...).Error()}, nil
	}
	// A tester should never put a secret in its message; make sure.
	return ConnectionTest{OK: true, Message: connectors.Scrub(errors.New(msg), secrets...).Error()}, nil
}
