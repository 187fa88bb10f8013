package httpreq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

func init() {
	for _, typ := range []string{ConnBearer, ConnBasic, ConnHeader} {
		connectors.RegisterTester(typ, true, "Sends GET to a URL you give (an address of the service that needs this credential and changes nothing, such as /me), with the credential as http.request sends it: 2xx works, 401 or 403 is a refusal.", connectors.TesterFunc(testConnection))
	}
}

// testConnection sends GET to the URL the user gave, with the connection's
// credential as http.request would send it, and reads the status: 2xx
// works, 401 and 403 mean the service refused the credential.
func testConnection(ctx context.Context, in connectors.TestInput) (string, error) {
	if in.URL == "" {
		return "", errors.New("give the URL to try the connection against, e.g. an API's /me or /status address")
	}
	u, err := connectors.ParseHTTPURL(in.URL)
	if err != nil {
		return "", fmt.Errorf("the URL %w", err)
	}
	var hidden []string
	p := &plan{method: http.MethodGet, url: u, header: http.Header{}, conceal: func(v string) { hidden = append(hidden, v) }}
	if err := p.setAuth(map[string]any{}, in.Values); err != nil {
		return "", err
	}
	for _, k := range []string{connToken, connPassword, connValue} {
		hidden = append(hidden, in.Values[k])
	}
	service := strings.TrimPrefix(p.service(), ID+": ")
	resp, err := connectors.Do(ctx, in.HTTP, connectors.Call{
		Service: service, Method: http.MethodGet, URL: u.String(), Header: p.header,
		Timeout: connectors.TestTimeout, MaxBody: 64 << 10,
	})
	if err != nil {
		return "", connectors.Scrub(err, hidden...)
	}
	switch {
	case resp.Status >= 200 && resp.Status < 300:
		return fmt.Sprintf("Works: %s answered %d.", service, resp.Status), nil
	case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
		return "", connectors.Scrub(fmt.Errorf("%s answered %d: the service refused the credential: %s", service, resp.Status,
			connectors.Excerpt(resp.Body, connectors.ExcerptLen)), hidden...)
	}
	return "", connectors.Scrub(fmt.Errorf("%s answered %d (not 2xx): %s", service, resp.Status,
		connectors.Excerpt(resp.Body, connectors.ExcerptLen)), hidden...)
}
