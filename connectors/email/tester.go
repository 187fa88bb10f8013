package email

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchyard/switchyard/connectors"
)

func init() {
	connectors.RegisterTester(ConnType, false, "Connects to the SMTP server, secures the connection as set (STARTTLS or TLS), signs in when a username is set, and quits without sending.", connectors.TesterFunc(testConnection))
}

// testConnection connects to the SMTP server, secures the connection as
// the connection asks and signs in when it has a username, then quits
// without sending anything.
func testConnection(ctx context.Context, in connectors.TestInput) (msg string, err error) {
	srv, err := parseServer(in.Values)
	if err != nil {
		return "", err
	}
	if in.Dial == nil {
		return "", errors.New("no dialer")
	}
	stage := "connect to " + srv.addr()
	c, done, err := signIn(ctx, in.Dial, srv, &stage)
	if err != nil {
		return "", connectors.Scrub(smtpError(ctx, err, "SMTP "+stage), srv.password)
	}
	defer done()
	_ = c.Quit()
	msg = fmt.Sprintf("Works: connected to %s (%s)", srv.addr(), srv.security)
	if srv.username != "" {
		msg += " and signed in as " + srv.username
	}
	return msg + ".", nil
}
