package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

// authTest is the Web API method a connection test calls: it checks a
// token and says whose it is, and changes nothing.
const authTest = "auth.test"

func init() {
	connectors.RegisterTester(ConnBot, false, "Calls auth.test (POST, the bot token as a bearer token): Slack says which workspace and bot the token belongs to.", connectors.TesterFunc(testBot))
	connectors.RegisterTester(ConnWebhook, false, "Posts an empty message ({}) to the webhook URL: Slack refuses it with no_text when the URL is live, so nothing is posted, and with invalid_token, no_service or channel_is_archived when it is not.", connectors.TesterFunc(testWebhook))
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

// testWebhook posts {} to an incoming webhook: Slack answers 400 no_text
// for a live URL without posting anything, and 403 invalid_token, 404
// no_service or 410 channel_is_archived for a dead one.
func testWebhook(ctx context.Context, in connectors.TestInput) (string, error) {
	raw := strings.TrimSpace(in.Values[connURL])
	target, err := connectors.ParseHTTPURL(raw)
	if raw == "" || err != nil {
		return "", errors.New("the connection's webhook URL is not an http:// or https:// URL")
	}
	secrets := []string{target.String(), raw}
	if len(target.Path) >= minSecretPath {
		secrets = append(secrets, target.EscapedPath(), target.Path)
	}
	header := http.Header{}
	header.Set("Content-Type", contentTypeJSON)
	service := "Slack incoming webhook"
	resp, err := post(ctx, in.HTTP, target.String(), header, []byte("{}"), service)
	if err != nil {
		return "", connectors.Scrub(err, secrets...)
	}
	answer := strings.TrimSpace(connectors.Excerpt(resp.Body, connectors.ExcerptLen))
	switch {
	case resp.Status == http.StatusBadRequest && strings.Contains(answer, "no_text"),
		resp.Status >= 200 && resp.Status < 300:
		return "Works: Slack knows this webhook URL (the empty test message was refused as expected: nothing was posted).", nil
	}
	return "", connectors.Scrub(fmt.Errorf("%s: Slack answered %d %s", service, resp.Status, answer), secrets...)
}
