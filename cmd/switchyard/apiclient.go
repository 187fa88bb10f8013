package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The commands that work against a running server (flows export, flows
// import, run, token create, backup) share this small client of its API:
// --server URL and --token (SWITCHYARD_SERVER, SWITCHYARD_TOKEN) pick it,
// --data (or neither) the data dir, offline. An error answer shows as one
// line: the server, the status and the problem's detail.

// remote is a running server's API, as a command reaches it.
type remote struct {
	base, token string
	client      *http.Client
}

// remoteFlags are the --server and --token flags of a command.
type remoteFlags struct {
	server, token string
}

// addRemoteFlags adds --server and --token to fs.
func addRemoteFlags(fs *flag.FlagSet, r *remoteFlags) {
	fs.StringVar(&r.server, "server", "", "base URL of a running server to work through its API (else the data dir, offline)")
	bindEnv(fs, "server", "SWITCHYARD_SERVER")
	fs.StringVar(&r.token, "token", "", "API token for --server")
	bindEnv(fs, "token", "SWITCHYARD_TOKEN")
}

// given reports whether the command line itself (not the environment)
// sets the flag name.
func given(args []string, name string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		if !strings.HasPrefix(a, "-") {
			return false
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		return a == name || strings.HasPrefix(a, name+"=")
	})
}

// pick returns the server a command works against, or nil for the data
// dir. --server and --data on one command line are a usage error; a
// --data on the command line wins over a SWITCHYARD_SERVER in the
// environment (a shell's default), as a --server wins over a
// SWITCHYARD_DATA (a service's).
func (r remoteFlags) pick(cmd string, args []string) (*remote, error) {
	dataGiven := given(args, "data")
	switch {
	case r.server == "":
		return nil, nil
	case dataGiven && given(args, "server"):
		return nil, usageError{cmd + ": give either --server (a running server) or --data (offline), not both"}
	case dataGiven:
		return nil, nil
	}
	u, err := url.Parse(r.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Sprintf("%s: --server %q: want a URL such as http://127.0.0.1:8080", cmd, r.server)}
	}
	if r.token == "" {
		return nil, usageError{cmd + ": --server needs --token (or SWITCHYARD_TOKEN)"}
	}
	// No overall timeout: a backup or a slow step may take long; the
	// dial and the wait for an answer's headers may not.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 5 * time.Minute
	return &remote{base: strings.TrimRight(r.server, "/"), token: r.token, client: &http.Client{Transport: tr}}, nil
}

// remoteError is an error answer of the server, shown as one line.
type remoteError struct {
	server string
	status int
	detail string
}

func (e *remoteError) Error() string {
	return fmt.Sprintf("%s answered %d %s: %s", e.server, e.status, http.StatusText(e.status), e.detail)
}

// send makes a request and returns the answer when its status is 2xx; an
// error answer becomes a *remoteError with the problem's detail (and the
// first field error), the body closed. body is nil, []byte (JSON as it is)
// or a value to encode.
func (r *remote) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.base, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var p struct {
		Detail  string `json:"detail"`
		Error   string `json:"error"`
		Details []struct {
			Field, Message string
		} `json:"details"`
	}
	detail := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &p) == nil {
		switch {
		case len(p.Details) > 1:
			detail = fmt.Sprintf("%s: %s (and %d more)", p.Details[0].Field, p.Details[0].Message, len(p.Details)-1)
		case len(p.Details) == 1:
			detail = p.Details[0].Field + ": " + p.Details[0].Message
		case p.Detail != "":
			detail = p.Detail
		case p.Error != "":
			detail = p.Error
		}
	}
	if i := strings.IndexByte(detail, '\n'); i >= 0 {
		detail = detail[:i]
	}
	return nil, &remoteError{server: r.base, status: resp.StatusCode, detail: detail}
}

// call is send for JSON answers: it decodes a 2xx answer into out (when
// not nil) and returns its status.
func (r *remote) call(ctx context.Context, method, path string, body, out any) (int, error) {
	resp, err := r.send(ctx, method, path, body)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}
