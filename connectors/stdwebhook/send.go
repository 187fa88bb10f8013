// Package stdwebhook is the webhook.send connector: it POSTs an event
// signed as Standard Webhooks specify (https://www.standardwebhooks.com):
// webhook-id, webhook-timestamp and a v1 HMAC-SHA256 webhook-signature
// made with a whsec_ secret. Run notifications are sent with it.
package stdwebhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/connectors"
)

// ID is the connector id a step's `use` names.
const ID = "webhook.send"

// Config keys.
const (
	FieldURL  = "url"
	FieldType = "type"
	FieldData = "data"
)

// Headers of a Standard Webhooks request.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix begins a Standard Webhooks secret; the rest is the base64
// of the HMAC key.
const SecretPrefix = "whsec_"

// Limits of one delivery.
const (
	Timeout         = 15 * time.Second
	MaxResponseBody = 64 << 10
)

func init() { connectors.Register(&Send{}) }

// Send is the webhook.send connector.
type Send struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Spec describes webhook.send.
func (*Send) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       ID,
		Category: "Core",
		Label:    "Send a signed webhook",
		Help: "POSTs {\"type\", \"timestamp\", \"data\"} to a URL, signed as Standard Webhooks specify (webhook-id, webhook-timestamp, webhook-signature v1), so the receiver can check it came from here with any Standard Webhooks library. " +
			"The webhook-id stays the same on every retry of one step. 429 and 5xx answers are retried; other 4xx fail the step. The output is {\"status\", \"webhook_id\"}.",
		SideEffects: true,
		Fields: []connectors.Field{
			connectors.ConnectionField("Signing secret", "A connection of type secret holding a whsec_ secret (Settings or a flow's notification section can create one).", "secret"),
			{Name: FieldURL, Label: "URL", Type: connectors.TypeString, Required: true, Help: "Where the event is POSTed."},
			{Name: FieldType, Label: "Event type", Type: connectors.TypeString, Required: true, Help: `e.g. "order.paid"; the receiver reads it as type.`},
			{Name: FieldData, Label: "Data", Type: connectors.TypeJSON, Shape: connectors.ShapeObject, Help: "The event's data object."},
		},
	}
}

// Execute signs and sends the event, or in a dry run describes it.
func (s *Send) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	target, err := connectors.ConfigString(in.Config, FieldURL)
	if err == nil && strings.TrimSpace(target) == "" {
		err = &connectors.ConfigError{Field: FieldURL, Msg: "required"}
	}
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", ID, err))
	}
	if _, err := connectors.ParseHTTPURL(target); err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", ID, &connectors.ConfigError{Field: FieldURL, Msg: err.Error()}))
	}
	typ, err := connectors.ConfigString(in.Config, FieldType)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", ID, err))
	}
	key, err := Key(in.Connection["value"])
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", ID, &connectors.ConfigError{Field: connectors.KeyConnection, Msg: err.Error()}))
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now().UTC()
	data := in.Config[FieldData]
	if data == nil {
		data = map[string]any{}
	}
	body, err := connectors.EncodeJSON(map[string]any{"type": typ, "timestamp": at.Format(time.RFC3339), "data": data})
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: encode body: %w", ID, err))
	}
	id := MessageID(in.IdempotencyKey)
	ts := strconv.FormatInt(at.Unix(), 10)
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set(HeaderID, id)
	header.Set(HeaderTimestamp, ts)
	header.Set(HeaderSignature, Sign(key, id, ts, body))
	if in.DryRun {
		return connectors.Result{Output: connectors.DryRunRequest(http.MethodPost, target,
			map[string]any{"Content-Type": "application/json", HeaderID: id, HeaderTimestamp: ts, HeaderSignature: connectors.Redacted}, string(body))}, nil
	}
	resp, err := connectors.Do(ctx, in.HTTP, connectors.Call{Service: ID, Method: http.MethodPost, URL: target, Header: header,
		Body: body, Timeout: Timeout, MaxBody: MaxResponseBody})
	if err != nil {
		return connectors.Result{}, err
	}
	if err := connectors.FromHTTPResponse(resp.Status, resp.Header, resp.Body, ID); err != nil {
		return connectors.Result{}, err
	}
	return connectors.Result{Output: map[string]any{"status": resp.Status, "webhook_id": id}}, nil
}

// Key decodes a whsec_ secret into its HMAC key.
func Key(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(secret), SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("the signing secret must start with %s", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("the signing secret after %s is not base64", SecretPrefix)
	}
	return key, nil
}

// Sign is the webhook-signature value: "v1," and the base64 HMAC-SHA256
// of "<id>.<timestamp>.<body>" under key.
func Sign(key []byte, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// MessageID derives a webhook-id from the step's idempotency key: the same
// on every retry of one step, so a receiver can drop repeats.
func MessageID(idempotencyKey string) string {
	sum := sha256.Sum256([]byte(idempotencyKey))
	return "msg_" + hex.EncodeToString(sum[:12])
}

var _ connectors.Connector = (*Send)(nil)
