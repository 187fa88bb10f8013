package email

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// message is an email ready to send: envelope and RFC 5322 bytes.
type message struct {
	from        *mail.Address
	to, cc, bcc []*mail.Address
	replyTo     []*mail.Address
	subject     string
	text, html  string
	id          string
	// rcpts are the envelope recipients: to, cc and bcc, without
	// duplicates.
	rcpts []string
	raw   []byte
}

func addrStrings(list []*mail.Address) []any {
	out := make([]any, len(list))
	for i, a := range list {
		out[i] = a.String()
	}
	return out
}

// buildMessage validates the step config and renders the message. key is
// the step's idempotency key, from which the Message-ID is derived so that
// every attempt sends the same one.
func buildMessage(cfg map[string]any, defaultFrom, key string, now time.Time) (*message, error) {
	m := &message{}
	fromRaw, err := connectors.ConfigString(cfg, fieldFrom)
	if err != nil {
		return nil, err
	}
	field := fieldFrom
	if strings.TrimSpace(fromRaw) == "" {
		fromRaw, field = defaultFrom, fieldConnection
	}
	if strings.TrimSpace(fromRaw) == "" {
		return nil, &connectors.ConfigError{Field: fieldFrom, Msg: "required: set it here or give the connection a default sender"}
	}
	if m.from, err = mail.ParseAddress(fromRaw); err != nil {
		return nil, &connectors.ConfigError{Field: field, Msg: fmt.Sprintf("%q is not an email address", fromRaw), Err: unquote(err)}
	}
	if m.to, err = addressList(cfg, fieldTo); err != nil {
		return nil, err
	}
	if len(m.to) == 0 {
		return nil, &connectors.ConfigError{Field: fieldTo, Msg: "required"}
	}
	if m.cc, err = addressList(cfg, fieldCc); err != nil {
		return nil, err
	}
	if m.bcc, err = addressList(cfg, fieldBcc); err != nil {
		return nil, err
	}
	if m.replyTo, err = addressList(cfg, fieldReplyTo); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, list := range [][]*mail.Address{m.to, m.cc, m.bcc} {
		for _, a := range list {
			if k := strings.ToLower(a.Address); !seen[k] {
				seen[k] = true
				m.rcpts = append(m.rcpts, a.Address)
			}
		}
	}
	if len(m.rcpts) > MaxRecipients {
		return nil, &connectors.ConfigError{Field: fieldTo, Msg: fmt.Sprintf("%d recipients; at most %d", len(m.rcpts), MaxRecipients)}
	}
	subject, err := connectors.ConfigString(cfg, fieldSubject)
	if err != nil {
		return nil, err
	}
	// A line break in a subject would end the header; fold it into a space.
	subject = strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(subject)), " ")
	if subject == "" {
		return nil, &connectors.ConfigError{Field: fieldSubject, Msg: "required"}
	}
	m.subject = subject
	if m.text, err = connectors.ConfigString(cfg, fieldText); err != nil {
		return nil, err
	}
	if m.html, err = connectors.ConfigString(cfg, fieldHTML); err != nil {
		return nil, err
	}
	if strings.TrimSpace(m.text) == "" && strings.TrimSpace(m.html) == "" {
		return nil, &connectors.ConfigError{Field: fieldText, Msg: "give a text body, an HTML body or both"}
	}
	m.id = messageID(key, m.from.Address)
	if m.raw, err = m.render(now); err != nil {
		return nil, fmt.Errorf("render message: %w", err)
	}
	return m, nil
}

// unquote drops net/mail's error detail that repeats the input.
func unquote(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "mail: "))
}

// addressList reads to, cc, bcc or reply_to: a string of comma-separated
// addresses, or a list of such strings.
func addressList(cfg map[string]any, key string) ([]*mail.Address, error) {
	var parts []string
	switch v := cfg[key].(type) {
	case nil:
		return nil, nil
	case []any:
		for i, item := range v {
			s, ok := connectors.Stringify(item)
			if !ok {
				return nil, &connectors.ConfigError{Field: fmt.Sprintf("%s[%d]", key, i), Msg: "want an email address, got " + connectors.TypeName(item)}
			}
			parts = append(parts, s)
		}
	default:
		s, ok := connectors.Stringify(v)
		if !ok {
			return nil, &connectors.ConfigError{Field: key, Msg: "want addresses separated by commas, or a list, got " + connectors.TypeName(v)}
		}
		parts = []string{s}
	}
	var out []*mail.Address
	for _, p := range parts {
		p = strings.TrimSpace(strings.Trim(strings.TrimSpace(p), ","))
		if p == "" {
			continue
		}
		list, err := mail.ParseAddressList(p)
		if err != nil {
			return nil, &connectors.ConfigError{Field: key, Msg: fmt.Sprintf("%q is not a list of email addresses", p), Err: unquote(err)}
		}
		out = append(out, list...)
	}
	return out, nil
}

// messageID derives a Message-ID from the idempotency key, so retries of
// a step send the same id, in the sender's domain. Without a key (a test
// run outside the engine) it is random.
func messageID(key, from string) string {
	var sum []byte
	if key != "" {
		h := sha256.Sum256([]byte("switchyard email.send " + key))
		sum = h[:16]
	} else {
		sum = make([]byte, 16)
		_, _ = rand.Read(sum)
	}
	domain := "switchyard.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		if d := from[at+1:]; isDotAtom(d) {
			domain = d
		}
	}
	return "<" + hex.EncodeToString(sum) + "@" + domain + ">"
}

func isDotAtom(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>[]:;@\,"`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// render writes the RFC 5322 message: headers, then one quoted-printable
// part, or a multipart/alternative with text then HTML (the preferred
// form last). Lines end in CRLF.
func (m *message) render(now time.Time) ([]byte, error) {
	var b bytes.Buffer
	header(&b, "From", m.from.String())
	header(&b, "To", joinAddrs(m.to))
	if len(m.cc) > 0 {
		header(&b, "Cc", joinAddrs(m.cc))
	}
	if len(m.replyTo) > 0 {
		header(&b, "Reply-To", joinAddrs(m.replyTo))
	}
	header(&b, "Subject", mime.QEncoding.Encode("utf-8", m.subject))
	header(&b, "Date", now.Format(time.RFC1123Z))
	header(&b, "Message-ID", m.id)
	header(&b, "MIME-Version", "1.0")
	switch {
	case m.text != "" && m.html != "":
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for _, p := range []struct{ typ, content string }{{"text/plain", m.text}, {"text/html", m.html}} {
			w, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {p.typ + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			if err != nil {
				return nil, err
			}
			if err := writeQP(w, p.content); err != nil {
				return nil, err
			}
		}
		if err := mw.Close(); err != nil {
			return nil, err
		}
		header(&b, "Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
		b.WriteString("\r\n")
		b.Write(body.Bytes())
	default:
		typ, content := "text/plain", m.text
		if m.text == "" {
			typ, content = "text/html", m.html
		}
		header(&b, "Content-Type", typ+"; charset=utf-8")
		header(&b, "Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, content); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func writeQP(w interface{ Write([]byte) (int, error) }, s string) error {
	qp := quotedprintable.NewWriter(w)
	// Text mode: line breaks (LF or CRLF) become CRLF, the rest is encoded.
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	return qp.Close()
}

func joinAddrs(list []*mail.Address) string {
	parts := make([]string, len(list))
	for i, a := range list {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}

// maxLine is where header lines are folded (RFC 5322 recommends 78).
const maxLine = 78

// header writes "Name: value", folded at spaces so that lines stay short.
// Values here never hold CR or LF: addresses come from net/mail and the
// subject is encoded or cleaned.
func header(b *bytes.Buffer, name, value string) {
	line := name + ":"
	for i, word := range strings.Split(value, " ") {
		if i > 0 && len(line)+1+len(word) > maxLine {
			b.WriteString(line)
			b.WriteString("\r\n")
			line = ""
		}
		line += " " + word
	}
	b.WriteString(line)
	b.WriteString("\r\n")
}
