// Package email is the email.send connector: one message over SMTP with
// STARTTLS or implicit TLS, plain text and/or HTML bodies, and the "smtp"
// connection type.
//
// Connections are opened through Input.Dial, so the egress policy applies
// to SMTP as it does to HTTP. Credentials are only ever sent over TLS.
package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/egress"
)

// ID is the connector id a step's `use` names.
const ID = "email.send"

// ConnType is the connection type email.send uses.
const ConnType = "smtp"

// Connection value keys.
const (
	connHost     = "host"
	connPort     = "port"
	connUsername = "username"
	connPassword = "password"
	connSecurity = "security"
	connFrom     = "from"
	connHELO     = "helo_name"
	connCAPEM    = "tls_ca_pem"
)

// Config keys.
const (
	fieldConnection = connectors.KeyConnection
	fieldFrom       = "from"
	fieldTo         = "to"
	fieldCc         = "cc"
	fieldBcc        = "bcc"
	fieldReplyTo    = "reply_to"
	fieldSubject    = "subject"
	fieldText       = "text"
	fieldHTML       = "html"
	fieldTimeout    = "timeout"
)

// Security modes (connection value security).
const (
	SecuritySTARTTLS = "starttls"
	SecurityTLS      = "tls"
	SecurityNone     = "none"
)

// Defaults and limits.
const (
	DefaultPort    = 587
	DefaultTLSPort = 465
	DefaultHELO    = "localhost"
	DefaultTimeout = 60 * time.Second
	MaxTimeout     = 5 * time.Minute
	// MaxRecipients caps to, cc and bcc together.
	MaxRecipients = 100
)

// Redacted replaces credentials in dry-run output and errors.
const Redacted = connectors.Redacted

var securities = []string{SecuritySTARTTLS, SecurityTLS, SecurityNone}

func init() {
	connectors.RegisterConnectionType(connectors.ConnectionType{
		ID:    ConnType,
		Label: "Email (SMTP)",
		Help:  "An SMTP server to send mail through, such as your mail provider's submission server.",
		Fields: []connectors.Field{
			{Name: connHost, Label: "Server", Type: connectors.TypeString, Required: true,
				Help: "The SMTP server's host name, e.g. smtp.example.com."},
			{Name: connPort, Label: "Port", Type: connectors.TypeNumber,
				Help: "Usually 587 with STARTTLS or 465 with TLS. Empty: 587, or 465 when security is tls."},
			{Name: connUsername, Label: "Username", Type: connectors.TypeString,
				Help: "The login for the server, often your email address. Empty: send without signing in."},
			{Name: connPassword, Label: "Password", Type: connectors.TypeSecret,
				Help: "The password or app password for that login."},
			{Name: connSecurity, Label: "Security", Type: connectors.TypeSelect, Options: securities, Default: SecuritySTARTTLS,
				Help: "starttls: connect in plain text and switch to TLS (port 587). tls: TLS from the start (port 465). " +
					"none: no encryption, only for a relay on your own network; a username and password are refused with it."},
			{Name: connFrom, Label: "Default sender", Type: connectors.TypeString,
				Help: `The From address used when a step names none, e.g. Shop <orders@example.com>.`},
			{Name: connHELO, Label: "HELO name", Type: connectors.TypeString, Advanced: true,
				Help: "The name this machine gives when greeting the server. Empty: " + DefaultHELO + "."},
			{Name: connCAPEM, Label: "Extra trusted certificate (PEM)", Type: connectors.TypeText, Advanced: true,
				Help: "A CA certificate, PEM encoded, to trust for this server besides the system's ones: for a relay with its own certificate authority. " +
					"The server's certificate is always checked against its name."},
		},
	})
	connectors.Register(&Send{})
}

// Send is the email.send connector.
type Send struct{}

// Spec describes email.send.
func (*Send) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       ID,
		Category: "Email",
		Label:    "Send an email",
		Help: "Sends one email through an SMTP server, as plain text, HTML or both. Output: message_id and accepted (the recipients). " +
			"Temporary server refusals (4xx) and network errors are retried with the same Message-ID; permanent refusals (5xx) fail the step with the server's reply.",
		SideEffects: true,
		Fields: []connectors.Field{
			connectors.ConnectionField("Connection", "The SMTP server to send through.", ConnType),
			{Name: fieldFrom, Label: "From", Type: connectors.TypeString,
				Help: "The sender, e.g. Shop <orders@example.com>. Empty: the connection's default sender."},
			{Name: fieldTo, Label: "To", Type: connectors.TypeJSON, Shape: connectors.ShapeList, Required: true,
				Help: "One or more recipients: a list, or addresses separated by commas, e.g. ada@example.com, Bob <bob@example.com>."},
			{Name: fieldCc, Label: "Cc", Type: connectors.TypeJSON, Shape: connectors.ShapeList, Help: "Copy recipients, shown to everyone; same form as To."},
			{Name: fieldBcc, Label: "Bcc", Type: connectors.TypeJSON, Shape: connectors.ShapeList, Help: "Hidden copy recipients; same form as To."},
			{Name: fieldReplyTo, Label: "Reply-To", Type: connectors.TypeString, Help: "Where replies go, when not to the sender."},
			{Name: fieldSubject, Label: "Subject", Type: connectors.TypeString, Required: true, Help: "The subject line."},
			{Name: fieldText, Label: "Text body", Type: connectors.TypeText,
				Help: "The message as plain text. Give text, HTML or both (mail apps then pick the one they show best)."},
			{Name: fieldHTML, Label: "HTML body", Type: connectors.TypeText, Help: "The message as HTML."},
			{Name: fieldTimeout, Label: "Timeout", Type: connectors.TypeDuration, Default: DefaultTimeout.String(), Advanced: true,
				Help: "How long the whole conversation with the server may take; at most 5 minutes."},
		},
	}
}

// server is a parsed smtp connection.
type server struct {
	host     string
	port     int
	security string
	username string
	password string
	from     string
	helo     string
	tls      *tls.Config
}

func (s *server) addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

func parseServer(values map[string]string) (*server, error) {
	bad := func(format string, args ...any) error {
		return &connectors.ConfigError{Field: fieldConnection, Msg: fmt.Sprintf(format, args...)}
	}
	if len(values) == 0 {
		return nil, bad("required: name a connection of type %s", ConnType)
	}
	s := &server{
		host:     strings.TrimSpace(values[connHost]),
		username: values[connUsername],
		password: values[connPassword],
		from:     strings.TrimSpace(values[connFrom]),
		helo:     strings.TrimSpace(values[connHELO]),
	}
	if strings.HasPrefix(s.host, "[") && strings.HasSuffix(s.host, "]") {
		s.host = s.host[1 : len(s.host)-1]
	}
	if s.host == "" {
		return nil, bad("the connection has no host")
	}
	if strings.ContainsAny(s.host, " /:@[]\t\r\n") && net.ParseIP(s.host) == nil {
		return nil, bad("connection host %q must be a host name such as smtp.example.com, without scheme or port", s.host)
	}
	if err := egress.CheckHost(s.host); err != nil {
		return nil, fmt.Errorf("connection host: %w", err)
	}
	sec, err := connectors.ConfigChoice(map[string]any{connSecurity: values[connSecurity]}, connSecurity, SecuritySTARTTLS, securities)
	if err != nil {
		return nil, bad("connection security: %v", err)
	}
	s.security = sec
	s.port = DefaultPort
	if sec == SecurityTLS {
		s.port = DefaultTLSPort
	}
	if p := strings.TrimSpace(values[connPort]); p != "" {
		n, err := strconv.ParseFloat(p, 64)
		if err != nil || n != float64(int(n)) || n < 1 || n > 65535 {
			return nil, bad("connection port %q is not a port number", p)
		}
		s.port = int(n)
	}
	if s.helo == "" {
		s.helo = DefaultHELO
	}
	if strings.ContainsAny(s.helo, " \t\r\n") {
		return nil, bad("connection helo_name must be one host name")
	}
	if sec == SecurityNone && (s.username != "" || s.password != "") {
		return nil, bad("security none sends everything unencrypted: the connection's username and password are refused; use starttls or tls")
	}
	if s.password != "" && s.username == "" {
		return nil, bad("the connection has a password but no username")
	}
	if strings.ContainsAny(s.username+s.password, "\x00\r\n") {
		return nil, bad("the connection's username or password holds a control character")
	}
	if sec != SecurityNone {
		s.tls = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
		if pem := strings.TrimSpace(values[connCAPEM]); pem != "" {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM([]byte(pem)) {
				return nil, bad("connection tls_ca_pem holds no PEM certificate")
			}
			s.tls.RootCAs = pool
		}
	}
	return s, nil
}

// Execute sends the message, or in a dry run describes it.
func (*Send) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	fail := func(err error) (connectors.Result, error) {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", ID, err))
	}
	srv, err := parseServer(in.Connection)
	if err != nil {
		return fail(err)
	}
	msg, err := buildMessage(in.Config, srv.from, in.IdempotencyKey, time.Now())
	if err != nil {
		return fail(err)
	}
	timeout, err := connectors.ConfigTimeout(in.Config, fieldTimeout, DefaultTimeout, MaxTimeout)
	if err != nil {
		return fail(err)
	}
	if in.DryRun {
		req := map[string]any{
			"server":     srv.addr(),
			"security":   srv.security,
			"auth":       srv.username != "",
			"from":       msg.from.String(),
			"to":         addrStrings(msg.to),
			"subject":    msg.subject,
			"message_id": msg.id,
		}
		if len(msg.cc) > 0 {
			req["cc"] = addrStrings(msg.cc)
		}
		if len(msg.bcc) > 0 {
			req["bcc"] = addrStrings(msg.bcc)
		}
		if msg.text != "" {
			req["text"] = msg.text
		}
		if msg.html != "" {
			req["html"] = msg.html
		}
		return connectors.Result{Output: map[string]any{"dry_run": true, "request": req}}, nil
	}
	if in.Dial == nil {
		return fail(errors.New("no dialer"))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := deliver(ctx, in.Dial, srv, msg); err != nil {
		return connectors.Result{}, connectors.Scrub(err, srv.password)
	}
	accepted := make([]any, 0, len(msg.rcpts))
	for _, r := range msg.rcpts {
		accepted = append(accepted, r)
	}
	return connectors.Result{Output: map[string]any{"message_id": msg.id, "accepted": accepted}}, nil
}

// deliver runs one SMTP conversation. Any error is a StepError.
func deliver(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), srv *server, msg *message) (err error) {
	stage := "connect to " + srv.addr()
	defer func() {
		if err != nil {
			err = smtpError(ctx, err, fmt.Sprintf("%s: %s", ID, stage))
		}
	}()
	c, done, err := signIn(ctx, dial, srv, &stage)
	if err != nil {
		return err
	}
	defer done()
	stage = "MAIL FROM"
	if err := c.Mail(msg.from.Address); err != nil {
		return err
	}
	for _, r := range msg.rcpts {
		stage = "RCPT TO " + r
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	stage = "DATA"
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg.raw); err != nil {
		return err
	}
	stage = "end of DATA"
	if err := w.Close(); err != nil {
		return err
	}
	// The message is accepted; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// signIn opens an SMTP session up to the point a message could be sent:
// connect, TLS or STARTTLS as the connection asks, EHLO, and AUTH when it
// has a username. *stage names the step under way, for error messages.
// done closes the session; it is nil when err is not.
func signIn(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), srv *server, stage *string) (c *smtp.Client, done func(), err error) {
	raw, err := dial(ctx, "tcp", srv.addr())
	if err != nil {
		return nil, nil, err
	}
	// net/smtp takes no context: closing the connection when ctx ends
	// unblocks whatever read or write is under way.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	done = func() {
		if c != nil {
			c.Close()
		}
		raw.Close()
		stop()
	}
	defer func() {
		if err != nil {
			done()
			c, done = nil, nil
		}
	}()
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	conn := raw
	if srv.security == SecurityTLS {
		*stage = "TLS handshake with " + srv.addr()
		tc := tls.Client(raw, srv.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, done, err
		}
		conn = tc
	}
	*stage = "greeting"
	if c, err = smtp.NewClient(conn, srv.host); err != nil {
		return nil, done, err
	}
	*stage = "EHLO"
	if err := c.Hello(srv.helo); err != nil {
		return c, done, err
	}
	if srv.security == SecuritySTARTTLS {
		*stage = "STARTTLS"
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return c, done, connectors.Permanentf("the server does not offer STARTTLS; set security to tls (port 465), or none for a relay on your own network")
		}
		if err := c.StartTLS(srv.tls); err != nil {
			return c, done, err
		}
	}
	if srv.username != "" {
		*stage = "AUTH"
		auth, err := pickAuth(c, srv)
		if err != nil {
			return c, done, err
		}
		if err := c.Auth(auth); err != nil {
			return c, done, err
		}
	}
	return c, done, nil
}

// pickAuth chooses PLAIN, or LOGIN when only that is offered.
func pickAuth(c *smtp.Client, srv *server) (smtp.Auth, error) {
	ok, params := c.Extension("AUTH")
	if !ok {
		return nil, connectors.Permanentf("the server offers no AUTH but the connection has a username; clear the username to send without signing in")
	}
	mechs := strings.Fields(strings.ToUpper(params))
	has := func(m string) bool {
		for _, x := range mechs {
			if x == m {
				return true
			}
		}
		return false
	}
	switch {
	case has("PLAIN"):
		return &plainAuth{user: srv.username, pass: srv.password}, nil
	case has("LOGIN"):
		return &loginAuth{user: srv.username, pass: srv.password}, nil
	}
	return nil, connectors.Permanentf("the server offers AUTH %s; only PLAIN and LOGIN are supported", params)
}

var errNoTLS = errors.New("refusing to send credentials over an unencrypted connection")

// plainAuth is AUTH PLAIN (RFC 4616), refused without TLS.
type plainAuth struct{ user, pass string }

func (a *plainAuth) Start(s *smtp.ServerInfo) (string, []byte, error) {
	if !s.TLS {
		return "", nil, connectors.Permanent(errNoTLS)
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, connectors.Permanentf("unexpected AUTH PLAIN challenge")
	}
	return nil, nil
}

// loginAuth is the AUTH LOGIN mechanism: the username, then the password,
// each in answer to a challenge. Refused without TLS.
type loginAuth struct {
	user, pass string
	step       int
}

func (a *loginAuth) Start(s *smtp.ServerInfo) (string, []byte, error) {
	if !s.TLS {
		return "", nil, connectors.Permanent(errNoTLS)
	}
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(_ []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch a.step {
	case 1:
		return []byte(a.user), nil
	case 2:
		return []byte(a.pass), nil
	}
	return nil, connectors.Permanentf("unexpected AUTH LOGIN challenge")
}

// smtpError maps an error from the conversation: SMTP replies 4xx are
// retryable, 5xx permanent, both carrying the server's text; network
// errors go through FromTransportError (timeouts retryable, certificate
// failures and egress refusals permanent).
func smtpError(ctx context.Context, err error, service string) error {
	var se *connectors.StepError
	if errors.As(err, &se) {
		return &connectors.StepError{Retryable: se.Retryable, RetryAfter: se.RetryAfter, Err: fmt.Errorf("%s: %w", service, err)}
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		e := fmt.Errorf("%s: server replied %d %s", service, te.Code, connectors.Excerpt([]byte(te.Msg), connectors.ExcerptLen))
		if te.Code >= 400 && te.Code < 500 {
			return connectors.Retryable(e, 0)
		}
		return connectors.Permanent(e)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return connectors.Retryable(fmt.Errorf("%s: no answer in time: %w", service, context.DeadlineExceeded), 0)
	}
	if ctx.Err() != nil {
		return connectors.Retryable(fmt.Errorf("%s: %w", service, ctx.Err()), 0)
	}
	return connectors.FromTransportError(err, service)
}

var _ connectors.Connector = (*Send)(nil)
