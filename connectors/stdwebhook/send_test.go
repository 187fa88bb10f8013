package stdwebhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/stdwebhook"
)

const secret = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMtMzItYnl0ZXMhIQ=="

// TestSendSignsAndMapsAnswers: the request carries the three headers, the
// signature matches the body sent, the id follows the idempotency key, a
// 503 is retryable and a 400 is not; bad secrets are config errors.
func TestSendSignsAndMapsAnswers(t *testing.T) {
	status := http.StatusOK
	var got http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r.Header.Clone(), nil
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
	}))
	defer srv.Close()
	at := time.Unix(1764729600, 0)
	s := &stdwebhook.Send{Now: func() time.Time { return at }}
	in := connectors.Input{Config: map[string]any{"url": srv.URL, "type": "run.failed", "data": map[string]any{"run_id": "run_1"}},
		Connection: map[string]string{"value": secret}, IdempotencyKey: "run_9:send", HTTP: srv.Client()}
	out, err := s.Execute(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := stdwebhook.Key(secret)
	id, ts := got.Get("webhook-id"), got.Get("webhook-timestamp")
	if id != stdwebhook.MessageID("run_9:send") || ts != "1764729600" || got.Get("webhook-signature") != stdwebhook.Sign(key, id, ts, body) {
		t.Fatalf("headers %v for %s", got, body)
	}
	if string(body) != `{"data":{"run_id":"run_1"},"timestamp":"2025-12-03T02:40:00Z","type":"run.failed"}` {
		t.Fatalf("body %s", body)
	}
	if o := out.Output.(map[string]any); o["status"] != 200 || o["webhook_id"] != id {
		t.Fatalf("output %v", o)
	}
	status = http.StatusServiceUnavailable
	if _, err := s.Execute(context.Background(), in); err == nil {
		t.Fatal("503 passed")
	} else if ok, _ := connectors.IsRetryable(err); !ok {
		t.Fatalf("503 not retryable: %v", err)
	}
	status = http.StatusBadRequest
	if _, err := s.Execute(context.Background(), in); err == nil {
		t.Fatal("400 passed")
	} else if ok, _ := connectors.IsRetryable(err); ok {
		t.Fatalf("400 retryable: %v", err)
	}
	for _, bad := range []string{"", "secret", "whsec_!!"} {
		in.Connection = map[string]string{"value": bad}
		if _, err := s.Execute(context.Background(), in); err == nil || !strings.Contains(err.Error(), "the signing secret") || bad == "whsec_!!" && strings.Contains(err.Error(), "!!") {
			t.Errorf("secret %q: %v", bad, err)
		}
	}
}
