package salesforce

import (
	"context"
	"fmt"
	"net/http"

	"github.com/switchyard/switchyard/connectors"
)

func init() {
	connectors.RegisterTester(ConnType, false, "With a client id and secret, asks the token URL for a token (the client-credentials POST steps use); with an access token, reads the org's limits (GET /services/data/<version>/limits).", connectors.TesterFunc(testConnection))
}

// testConnection asks for a token with the connection's client id and
// secret (the client-credentials flow steps use), or, for a connection
// holding an access token, reads the org's limits with it. Neither
// changes anything in Salesforce; the token is not cached.
func testConnection(ctx context.Context, in connectors.TestInput) (string, error) {
	c, err := parseConn(in.Values)
	if err != nil {
		return "", err
	}
	if c.clientCredentials() {
		if _, err := fetchToken(ctx, in.HTTP, c); err != nil {
			return "", connectors.Scrub(err, c.secrets()...)
		}
		return fmt.Sprintf("Works: Salesforce issued a token for %s.", c.instance.Host), nil
	}
	target := c.instance.String() + "/services/data/" + c.version + "/limits"
	service := "Salesforce: GET /services/data/" + c.version + "/limits"
	header := http.Header{}
	header.Set("Authorization", "Bearer "+c.accessToken)
	header.Set("Accept", "application/json")
	resp, err := connectors.Do(ctx, in.HTTP, connectors.Call{
		Service: service, Method: http.MethodGet, URL: target, Header: header,
		Timeout: connectors.TestTimeout, MaxBody: MaxResponseBody,
	})
	if err != nil {
		return "", connectors.Scrub(err, c.secrets()...)
	}
	if resp.Status < 200 || resp.Status > 299 {
		return "", connectors.Scrub(fmt.Errorf("%s: %d: %s", service, resp.Status, summary(resp.Body)), c.secrets()...)
	}
	return fmt.Sprintf("Works: the access token reads %s.", c.instance.Host), nil
}
