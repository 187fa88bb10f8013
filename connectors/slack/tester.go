package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/switchyard/switchyard/connectors"
)

// authTest is the Web API method a connection test calls: it checks a
// token and says whose it is, and changes nothing.
const authTest = "auth.test"

func init() {
	connectors.RegisterTester(ConnBot, false, "Calls auth.test (POST, the bot token as a bearer token): Slack says which workspace and bot the token belongs to.", connectors.TesterFunc(testBot))
}

// testBot calls auth.test with the connection's bot token.
func testBot(ctx context.Context, in connectors.TestInput) (string, error) {
	token, err := botToken(in.Values)
	if err != nil {
		return "", err
	}
	base, err := baseURL(in.Values)
	if err != nil {
		return "", err
	}
	header := http.Header{}
	header.Set("Authorization", "Bearer "+token)
	header.Set("Content-Type", "application/x-www-form-urlencoded")
	service := "Slack " + authTest
	resp, err := post(ctx, in.HTTP, base.JoinPath(authTest).String(), header, []byte{}, service)
	if err != nil {
		return "", connectors.Scrub(err, token)
	}
	var ans struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		Team  string `json:"team"`
		User  string `json:"user"`
		URL   string `json:"url"`
	}
	if json.Unmarshal(resp.Body, &ans) != nil {
		return "", fmt.Errorf("%s: unexpected answer (HTTP %d): %s", service, resp.Status, connectors.Excerpt(resp.Body, connectors.ExcerptLen))
	}
	if !ans.OK {
		return "", &APIError{Service: service, Code: ans.Error}
	}
	return fmt.Sprintf("Works: signed in to Slack workspace %s as %s.", ans.Team, ans.User), nil
}
