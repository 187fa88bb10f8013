package pipedrive

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

func init() {
	connectors.RegisterTester(ConnType, false, "Reads the token's own user (GET /v1/users/me, the token in the x-api-token header).", connectors.TesterFunc(testConnection))
}

// testConnection reads the token's own user (GET users/me), which changes
// nothing in Pipedrive.
func testConnection(ctx context.Context, in connectors.TestInput) (string, error) {
	token := strings.TrimSpace(in.Values[connAPIToken])
	if token == "" {
		return "", &connectors.ConfigError{Field: connAPIToken, Msg: "the connection has no API token"}
	}
	if !connectors.ValidHeaderValue(token) {
		return "", &connectors.ConfigError{Field: connAPIToken, Msg: "the API token holds a line break or control character"}
	}
	root, err := apiRoot(in.Values)
	if err != nil {
		return "", err
	}
	service := "Pipedrive: GET " + root.Path + "/users/me"
	header := http.Header{}
	header.Set(TokenHeader, token)
	header.Set("Accept", "application/json")
	resp, err := connectors.Do(ctx, in.HTTP, connectors.Call{
		Service: service, Method: http.MethodGet, URL: root.String() + "/users/me", Header: header,
		Timeout: connectors.TestTimeout, MaxBody: MaxResponseBody,
	})
	if err != nil {
		return "", connectors.Scrub(err, token)
	}
	var ans answer
	parsed := json.Unmarshal(resp.Body, &ans) == nil
	if resp.Status < 200 || resp.Status > 299 {
		return "", connectors.Scrub(statusError(service, resp.Status, resp.Header, resp.Body, ans, parsed), token)
	}
	var me struct {
		Name    string `json:"name"`
		Email   string `json:"email"`
		Company string `json:"company_name"`
	}
	if !parsed || json.Unmarshal(ans.Data, &me) != nil || (me.Name == "" && me.Email == "") {
		return "", fmt.Errorf("%s: unexpected answer: %s", service, connectors.Excerpt(resp.Body, connectors.ExcerptLen))
	}
	msg := "Works: signed in to Pipedrive as " + strings.TrimSpace(me.Name+" <"+me.Email+">")
	if me.Company != "" {
		msg += " at " + me.Company
	}
	return msg + ".", nil
}
