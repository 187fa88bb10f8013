// Package slack holds the Slack connectors: slack.post_message (the Web
// API method chat.postMessage, with a bot token) and slack.incoming_webhook
// (a message to an incoming-webhook URL). Both send Block Kit messages.
package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// Connection types this package registers, and their value keys.
const (
	// ConnBot is a Slack app's bot token, for the Web API.
	ConnBot = "slack"
	// ConnWebhook is an incoming-webhook URL.
	ConnWebhook = "slack_webhook"

	connToken   = "token"
	connBaseURL = "base_url"
	connURL     = "url"
)

// DefaultBaseURL is where the Slack Web API lives.
const DefaultBaseURL = "https://slack.com/api"

// Limits.
const (
	// Timeout bounds one request, response body included.
	Timeout = 30 * time.Second
	// MaxResponseBody is the largest response read; a longer one fails
	// the step.
	MaxResponseBody = 2 << 20
)

// Redacted replaces credentials in dry-run output and error messages.
const Redacted = connectors.Redacted

// now is the clock Retry-After dates are read against.
var now = time.Now

// Config keys shared by both connectors.
const (
	fieldConnection = connectors.KeyConnection
	fieldText       = "text"
	fieldBlocks     = "blocks"
)

func init() {
	connectors.RegisterConnectionType(connectors.ConnectionType{
		ID:    ConnBot,
		Label: "Slack bot token",
		Help:  "A Slack app's bot token. Create an app at api.slack.com/apps, add the chat:write scope, install it to your workspace and copy the Bot User OAuth Token. Invite the app to each channel it should post to.",
		Fields: []connectors.Field{
			{Name: connToken, Label: "Bot token", Type: connectors.TypeSecret, Required: true,
				Help: "Starts with xoxb-."},
			{Name: connBaseURL, Label: "API base URL", Type: connectors.TypeString, Advanced: true, Default: DefaultBaseURL,
				Help: "Leave empty to use Slack itself. Only for test servers and proxies that speak the Slack Web API."},
		},
	})
	connectors.RegisterConnectionType(connectors.ConnectionType{
		ID:    ConnWebhook,
		Label: "Slack incoming webhook",
		Help:  "An incoming-webhook URL: it posts to the one channel chosen when the webhook was created. Anyone who has it can post there, so it is stored as a secret.",
		Fields: []connectors.Field{
			{Name: connURL, Label: "Webhook URL", Type: connectors.TypeSecret, Required: true,
				Help: "Looks like https://hooks.slack.com/services/T…/B…/…"},
		},
	})
	connectors.Register(&PostMessage{})
	connectors.Register(&IncomingWebhook{})
}

// baseURL returns the connection's API base URL, or DefaultBaseURL.
func baseURL(conn map[string]string) (*url.URL, error) {
	return connectors.BaseURL(conn, connBaseURL, DefaultBaseURL)
}

// botToken returns the connection's bot token.
func botToken(conn map[string]string) (string, error) {
	token := strings.TrimSpace(conn[connToken])
	if token == "" {
		return "", &connectors.ConfigError{Field: fieldConnection, Msg: fmt.Sprintf("needs a connection of type %s with a bot token", ConnBot)}
	}
	if !connectors.ValidHeaderValue(token) {
		return "", &connectors.ConfigError{Field: fieldConnection, Msg: "the token holds a line break or control character"}
	}
	return token, nil
}

// readBlocks reads a Block Kit blocks field: a list of blocks, the same
// list as JSON text, or an object with a "blocks" list (what Slack's Block
// Kit Builder copies). Absent or empty gives nil.
// textBlock is the Block Kit section a line of text in blocks stands for,
// so a layout can be written as lines of Slack-formatted text without
// Block Kit JSON.
func textBlock(s string) map[string]any {
	return map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": s}}
}

func readBlocks(cfg map[string]any) ([]any, error) {
	v := cfg[fieldBlocks]
	if s, ok := v.(string); ok {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, nil
		}
		if s[0] != '[' && s[0] != '{' {
			// Plain text: one section of it (see textBlock).
			return []any{textBlock(s)}, nil
		}
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, &connectors.ConfigError{Field: fieldBlocks, Msg: "not valid JSON", Err: err}
		}
	}
	if m, ok := v.(map[string]any); ok {
		if inner, ok := m["blocks"]; ok {
			v = inner
		}
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		x = slices.Clone(x)
		for i, b := range x {
			if s, ok := b.(string); ok {
				x[i] = textBlock(s)
				continue
			}
			if _, ok := b.(map[string]any); !ok {
				return nil, &connectors.ConfigError{Field: fmt.Sprintf("%s[%d]", fieldBlocks, i), Msg: "want a block object such as {\"type\": \"section\", ...}, got " + connectors.TypeName(b)}
			}
		}
		if len(x) == 0 {
			return nil, nil
		}
		return x, nil
	}
	return nil, &connectors.ConfigError{Field: fieldBlocks, Msg: "want a list of Block Kit blocks, got " + connectors.TypeName(v)}
}

// optBool reads a bool field that is sent only when set, so that Slack's
// own default applies otherwise.
func optBool(cfg map[string]any, key string, body map[string]any) error {
	if v, ok := cfg[key]; !ok || v == nil || v == "" {
		return nil
	}
	b, err := connectors.ConfigBool(cfg, key, false)
	if err != nil {
		return err
	}
	body[key] = b
	return nil
}

// optString copies a non-empty string field into body.
func optString(cfg map[string]any, key string, body map[string]any) error {
	s, err := connectors.ConfigString(cfg, key)
	if err != nil {
		return err
	}
	if s = strings.TrimSpace(s); s != "" {
		body[key] = s
	}
	return nil
}

// post sends body to u and reads the answer. Transport errors are mapped
// to step errors named service.
func post(ctx context.Context, client *http.Client, u string, header http.Header, body []byte, service string) (*connectors.Answer, error) {
	return connectors.Do(ctx, client, connectors.Call{
		Service: service, Method: http.MethodPost, URL: u, Header: header, Body: body,
		Timeout: Timeout, MaxBody: MaxResponseBody,
	})
}
