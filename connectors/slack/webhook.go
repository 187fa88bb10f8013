package slack

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

// IncomingWebhookID is the connector id of the incoming-webhook post.
const IncomingWebhookID = "slack.incoming_webhook"

// minSecretPath is the shortest URL path scrubbed from messages on its
// own; shorter ones (such as "/") would mangle them and reveal nothing.
const minSecretPath = 8

// IncomingWebhook is the slack.incoming_webhook connector.
type IncomingWebhook struct{}

// Spec describes slack.incoming_webhook.
func (*IncomingWebhook) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       IncomingWebhookID,
		Category: "Chat",
		Label:    "Slack: send to an incoming webhook",
		Help: "Posts a message to the Slack channel an incoming webhook was made for. Simpler than a bot token, but it always posts to that one channel and returns no message ts. " +
			"Rate limits and Slack outages are retried; other errors, such as invalid_payload or no_service, fail the step with Slack's answer. The output is {\"ok\": true}.",
		SideEffects: true,
		Fields: []connectors.Field{
			connectors.ConnectionField("Webhook connection", "The stored incoming-webhook URL to post to.", ConnWebhook),
			{Name: fieldText, Label: "Text", Type: connectors.TypeText,
				Help: "The message. Slack formatting works: *bold*, _italic_, <https://example.com|links>, <@U0123> mentions. With blocks, this text is what notifications show. Text or blocks is required."},
			{Name: fieldBlocks, Label: "Blocks", Type: connectors.TypeJSON, Shape: connectors.ShapeList,
				Help: "One section per line of Slack-formatted text, or a Block Kit layout (a list of blocks, as Slack's Block Kit Builder makes it). Text or blocks is required."},
		},
	}
}

// Execute posts the message, or in a dry run describes the request.
func (*IncomingWebhook) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	target, body, err := buildWebhook(in)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", IncomingWebhookID, err))
	}
	if in.DryRun {
		return connectors.Result{Output: connectors.DryRunRequest(http.MethodPost, target.Scheme+"://"+target.Host+"/"+Redacted,
			map[string]any{"Content-Type": contentTypeJSON}, body)}, nil
	}
	if in.HTTP == nil {
		return connectors.Result{}, connectors.Permanentf("%s: no HTTP client", IncomingWebhookID)
	}
	encoded, err := connectors.EncodeJSON(body)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: encode body: %w", IncomingWebhookID, err))
	}
	header := http.Header{}
	header.Set("Content-Type", contentTypeJSON)
	// The whole URL is the credential; keep it, and its path alone, out of
	// every message.
	secrets := []string{target.String(), in.Connection[connURL]}
	if len(target.Path) >= minSecretPath {
		secrets = append(secrets, target.EscapedPath(), target.Path)
	}
	resp, err := post(ctx, in.HTTP, target.String(), header, encoded, IncomingWebhookID)
	if err != nil {
		return connectors.Result{}, connectors.Scrub(err, secrets...)
	}
	if err := connectors.FromHTTPResponse(resp.Status, resp.Header, resp.Body, IncomingWebhookID); err != nil {
		return connectors.Result{}, connectors.Scrub(err, secrets...)
	}
	return connectors.Result{Output: map[string]any{"ok": true}}, nil
}

// buildWebhook validates the config and connection. Its errors are
// config errors and never quote the URL.
func buildWebhook(in connectors.Input) (*url.URL, map[string]any, error) {
	raw := strings.TrimSpace(in.Connection[connURL])
	if raw == "" {
		return nil, nil, &connectors.ConfigError{Field: fieldConnection, Msg: fmt.Sprintf("needs a connection of type %s with a webhook URL", ConnWebhook)}
	}
	target, err := connectors.ParseHTTPURL(raw)
	if err != nil {
		return nil, nil, &connectors.ConfigError{Field: fieldConnection, Msg: "webhook URL " + err.Error()}
	}
	body := map[string]any{}
	text, err := connectors.ConfigString(in.Config, fieldText)
	if err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(text) != "" {
		body[fieldText] = text
	}
	blocks, err := readBlocks(in.Config)
	if err != nil {
		return nil, nil, err
	}
	if blocks != nil {
		body[fieldBlocks] = blocks
	}
	if len(body) == 0 {
		return nil, nil, &connectors.ConfigError{Field: fieldText, Msg: "text or blocks is required"}
	}
	return target, body, nil
}

var _ connectors.Connector = (*IncomingWebhook)(nil)
