package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

// accountInfoPath is HubSpot's account information endpoint: it reads the
// account's id and type and needs no scope beyond a valid token.
var accountInfoPath = []string{"account-info", "v3", "details"}

func init() {
	connectors.RegisterTester(ConnType, false, "Reads the account information (GET /account-info/v3/details with the access token): the account id and type.", connectors.TesterFunc(testConnection))
}

// testConnection reads the account's details with the connection's token.
func testConnection(ctx context.Context, in connectors.TestInput) (string, error) {
	c, err := newClient("HubSpot", in.Values)
	if err != nil {
		return "", err
	}
	k := call{method: http.MethodGet, path: accountInfoPath}
	header := http.Header{}
	header.Set("Authorization", "Bearer "+c.token)
	header.Set("Accept", "application/json")
	service := "HubSpot account info: GET /" + strings.Join(accountInfoPath, "/")
	resp, err := connectors.Do(ctx, in.HTTP, connectors.Call{
		Service: service, Method: k.method, URL: c.url(k), Header: header, Timeout: Timeout, MaxBody: MaxResponseBody,
	})
	if err != nil {
		return "", connectors.Scrub(err, c.token)
	}
	if resp.Status < 200 || resp.Status > 299 {
		return "", connectors.Scrub(errorFromResponse(resp.Status, resp.Header, resp.Body, service), c.token)
	}
	var info struct {
		PortalID    json.Number `json:"portalId"`
		AccountType string      `json:"accountType"`
	}
	if err := json.Unmarshal(resp.Body, &info); err != nil || info.PortalID == "" {
		return "", fmt.Errorf("%s: unexpected answer: %s", service, connectors.Excerpt(resp.Body, connectors.ExcerptLen))
	}
	msg := "Works: connected to HubSpot account " + info.PortalID.String()
	if info.AccountType != "" {
		msg += " (" + info.AccountType + ")"
	}
	return msg + ".", nil
}
