package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

// PostMessageID is the connector id of chat.postMessage.
const PostMessageID = "slack.post_message"

// method is the Web API method PostMessage calls.
const method = "chat.postMessage"

// contentTypeJSON is what Slack asks JSON bodies to declare; without the
// charset it answers with a missing_charset warning.
const contentTypeJSON = "application/json; charset=utf-8"

// Config keys of slack.post_message, named as chat.postMessage names its
// arguments.
const (
	fieldChannel        = "channel"
	fieldThreadTS       = "thread_ts"
	fieldReplyBroadcast = "reply_broadcast"
	fieldUnfurlLinks    = "unfurl_links"
	fieldUnfurlMedia    = "unfurl_media"
	fieldUsername       = "username"
	fieldIconEmoji      = "icon_emoji"
	fieldIconURL        = "icon_url"
	fieldMrkdwn         = "mrkdwn"
)

// retryableCodes are Slack error codes worth another attempt: the request
// was fine but Slack could not take it now.
var retryableCodes = map[string]bool{
	"ratelimited":         true,
	"rate_limited":        true,
	"service_unavailable": true,
	"request_timeout":     true,
	"internal_error":      true,
	"fatal_error":         true,
}

// hints explain the commonest Slack error codes to the person reading the
// run history.
var hints = map[string]string{
	"channel_not_found":     "the channel does not exist or the app cannot see it; use the channel ID, and invite the app to private channels",
	"not_in_channel":        "the app is not in this channel; invite it with /invite @your-app",
	"is_archived":           "the channel is archived",
	"not_authed":            "no token was sent; check the connection",
	"invalid_auth":          "the connection's token is not valid; store a current bot token",
	"token_revoked":         "the connection's token was revoked; store a new bot token",
	"token_expired":         "the connection's token expired; store a new bot token",
	"account_inactive":      "the token belongs to a deleted user or workspace",
	"missing_scope":         "the app lacks a permission such as chat:write; add it under OAuth & Permissions and reinstall the app",
	"no_text":               "give the message text or blocks",
	"invalid_blocks":        "the blocks are not valid Block Kit; try them in Slack's Block Kit Builder",
	"invalid_blocks_format": "blocks must be a list of Block Kit blocks",
	"msg_too_long":          "the message text is too long",
	"too_many_attachments":  "the message has too many attachments",
	"restricted_action":     "a workspace setting prevents the app from posting here",
	"ratelimited":           "Slack asked to slow down",
	"rate_limited":          "Slack asked to slow down",
}

// APIError is a Slack Web API answer with "ok": false.
type APIError struct {
	// Service names the step and method, e.g. "slack.post_message: chat.postMessage".
	Service string
	// Code is Slack's error code, e.g. "channel_not_found".
	Code string
	// Detail adds what Slack said beside the code: the scopes needed and
	// provided, or response_metadata.messages.
	Detail string
}

// Error implements error: `<service>: Slack answered <code> (<hint>): <detail>`.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: Slack answered %s", e.Service, e.Code)
	if h := hints[e.Code]; h != "" {
		fmt.Fprintf(&b, " (%s)", h)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// PostMessage is the slack.post_message connector.
type PostMessage struct{}

// Spec describes slack.post_message.
func (*PostMessage) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       PostMessageID,
		Category: "Chat",
		Label:    "Slack: post a message",
		Help: "Posts a message to a Slack channel, direct message or thread as your Slack app (chat.postMessage). " +
			"The output is Slack's answer: steps.<id>.output.ts is the message's timestamp (use it as thread_ts to reply in a thread) and steps.<id>.output.channel the channel ID. " +
			"Rate limits and Slack outages are retried; other Slack errors, such as channel_not_found, fail the step with Slack's error code.",
		SideEffects: true,
		Fields: []connectors.Field{
			connectors.ConnectionField("Slack connection", "The stored Slack bot token to post with.", ConnBot),
			{Name: fieldChannel, Label: "Channel", Type: connectors.TypeString, Required: true,
				Help: "The channel ID (such as C0123456789, found under the channel's name > About) or name (such as #sales). A user ID sends a direct message from the app. The app must be in the channel."},
			{Name: fieldText, Label: "Text", Type: connectors.TypeText,
				Help: "The message. Slack formatting works: *bold*, _italic_, <https://example.com|links>, <@U0123> mentions. With blocks, this text is what notifications show. Text or blocks is required."},
			{Name: fieldBlocks, Label: "Blocks", Type: connectors.TypeJSON, Shape: connectors.ShapeList,
				Help: "One section per line of Slack-formatted text, or a Block Kit layout (a list of blocks, as Slack's Block Kit Builder makes it). Text or blocks is required."},
			{Name: fieldThreadTS, Label: "Reply in thread", Type: connectors.TypeString,
				Help: "The ts of the message to reply to, e.g. {{ steps.announce.output.ts }}. Leave empty to post a new message."},
			{Name: fieldReplyBroadcast, Label: "Also send to channel", Type: connectors.TypeBool,
				Help: "For a thread reply: also show it in the channel."},
			{Name: fieldUnfurlLinks, Label: "Preview links", Type: connectors.TypeBool,
				Help: "Show previews of web pages linked in the text. Slack's default applies when unset."},
			{Name: fieldUnfurlMedia, Label: "Preview media", Type: connectors.TypeBool,
				Help: "Show previews of images and videos linked in the text. Slack's default applies when unset."},
			{Name: fieldUsername, Label: "Sender name", Type: connectors.TypeString, Advanced: true,
				Help: "Show this name instead of the app's. Needs the chat:write.customize permission."},
			{Name: fieldIconEmoji, Label: "Sender emoji", Type: connectors.TypeString, Advanced: true,
				Help: "Show this emoji as the sender's picture, e.g. :rocket:. Needs chat:write.customize."},
			{Name: fieldIconURL, Label: "Sender picture URL", Type: connectors.TypeString, Advanced: true,
				Help: "Show the image at this URL as the sender's picture. Needs chat:write.customize."},
			{Name: fieldMrkdwn, Label: "Format text", Type: connectors.TypeBool, Advanced: true,
				Help: "Turn off to show *, _ and ~ literally instead of as formatting. On by default."},
		},
	}
}

// postPlan is a chat.postMessage request ready to send.
type postPlan struct {
	url   string
	token string
	body  map[string]any
}

func (p *postPlan) service() string { return PostMessageID + ": " + method }

// Execute posts the message, or in a dry run describes the request.
func (c *PostMessage) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	p, err := buildPost(in)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", PostMessageID, err))
	}
	encoded, err := connectors.EncodeJSON(p.body)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: encode body: %w", PostMessageID, err))
	}
	header := http.Header{}
	header.Set("Content-Type", contentTypeJSON)
	if in.DryRun {
		return connectors.Result{Output: connectors.DryRunRequest(http.MethodPost, p.url,
			map[string]any{"Authorization": Redacted, "Content-Type": contentTypeJSON}, p.body)}, nil
	}
	if in.HTTP == nil {
		return connectors.Result{}, connectors.Permanentf("%s: no HTTP client", PostMessageID)
	}
	header.Set("Authorization", "Bearer "+p.token)
	resp, err := post(ctx, in.HTTP, p.url, header, encoded, p.service())
	if err != nil {
		return connectors.Result{}, connectors.Scrub(err, p.token)
	}
	out, err := p.answer(resp)
	if err != nil {
		return connectors.Result{}, connectors.Scrub(err, p.token)
	}
	return connectors.Result{Output: out}, nil
}

// answer reads Slack's answer: the decoded JSON object on success, else a
// step error.
func (p *postPlan) answer(resp *connectors.Answer) (map[string]any, error) {
	// A well-behaved Slack never echoes the token, but whatever it
	// answers goes into run history.
	raw := bytes.ReplaceAll(resp.Body, []byte(p.token), []byte(Redacted))
	var obj map[string]any
	jsonErr := json.Unmarshal(raw, &obj)
	code, _ := obj["error"].(string)
	ok, _ := obj["ok"].(bool)
	status := resp.Status
	is2xx := status >= 200 && status <= 299
	if !is2xx && (jsonErr != nil || code == "") {
		return nil, connectors.FromHTTPResponse(status, resp.Header, raw, p.service())
	}
	if jsonErr != nil || obj == nil {
		// The message may have been posted; trying again could post it twice.
		return nil, connectors.Permanentf("%s: unexpected answer from Slack (%d, not a JSON object): %s", p.service(), status, connectors.Excerpt(raw, connectors.ExcerptLen))
	}
	if ok && is2xx {
		return obj, nil
	}
	if code == "" {
		code = "unknown_error"
	}
	retry := status == http.StatusTooManyRequests || status >= 500 || retryableCodes[code]
	se := &connectors.StepError{
		Retryable: retry,
		Status:    status,
		Err:       &APIError{Service: p.service(), Code: code, Detail: errorDetail(obj)},
	}
	if retry {
		se.RetryAfter = connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), now())
	}
	return nil, se
}

// errorDetail collects what an ok:false answer says beside its code.
func errorDetail(obj map[string]any) string {
	var parts []string
	if needed, _ := obj["needed"].(string); needed != "" {
		parts = append(parts, "needed "+needed)
	}
	if provided, _ := obj["provided"].(string); provided != "" {
		parts = append(parts, "provided "+provided)
	}
	if meta, ok := obj["response_metadata"].(map[string]any); ok {
		if msgs, ok := meta["messages"].([]any); ok {
			for _, m := range msgs {
				if s, ok := m.(string); ok && s != "" {
					parts = append(parts, s)
				}
			}
		}
	}
	return connectors.Excerpt([]byte(strings.Join(parts, "; ")), connectors.ExcerptLen)
}

// buildPost validates the config and connection. Its errors are config
// errors.
func buildPost(in connectors.Input) (*postPlan, error) {
	cfg := in.Config
	p := &postPlan{body: map[string]any{}}
	var err error
	if p.token, err = botToken(in.Connection); err != nil {
		return nil, err
	}
	base, err := baseURL(in.Connection)
	if err != nil {
		return nil, err
	}
	p.url = base.JoinPath(method).String()

	channel, err := connectors.ConfigRequired(cfg, fieldChannel)
	if err != nil {
		return nil, err
	}
	p.body[fieldChannel] = channel

	text, err := connectors.ConfigString(cfg, fieldText)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(text) != "" {
		p.body[fieldText] = text
	}
	blocks, err := readBlocks(cfg)
	if err != nil {
		return nil, err
	}
	if blocks != nil {
		p.body[fieldBlocks] = blocks
	}
	if p.body[fieldText] == nil && blocks == nil {
		return nil, &connectors.ConfigError{Field: fieldText, Msg: "text or blocks is required"}
	}

	switch ts := cfg[fieldThreadTS].(type) {
	case nil:
	case string:
		if ts = strings.TrimSpace(ts); ts != "" {
			p.body[fieldThreadTS] = ts
		}
	default:
		// A number would lose the trailing digits that identify the message.
		return nil, &connectors.ConfigError{Field: fieldThreadTS, Msg: "want the message ts as text such as \"1712345678.000100\", got " + connectors.TypeName(ts)}
	}
	for _, key := range []string{fieldReplyBroadcast, fieldUnfurlLinks, fieldUnfurlMedia, fieldMrkdwn} {
		if err := optBool(cfg, key, p.body); err != nil {
			return nil, err
		}
	}
	for _, key := range []string{fieldUsername, fieldIconEmoji, fieldIconURL} {
		if err := optString(cfg, key, p.body); err != nil {
			return nil, err
		}
	}
	return p, nil
}

var _ connectors.Connector = (*PostMessage)(nil)
