package slack_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors/internal/conntest"
	"github.com/switchyard/switchyard/connectors/slack"
)

// TestConnectionTest: the Slack test calls auth.test as Slack documents
// it (POST with the bot token as a bearer token) and reports the
// workspace, or Slack's error code with its hint.
func TestConnectionTest(t *testing.T) {
	const token = "xoxb-1234-secret-token"
	srv := conntest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Write([]byte(`{"ok": false, "error": "invalid_auth"}`))
			return
		}
		w.Write([]byte(`{"ok": true, "url": "https://acme.slack.com/", "team": "Acme", "user": "switchyard", "team_id": "T1", "user_id": "U1", "bot_id": "B1"}`))
	})
	msg, err := conntest.TestConnection(t, slack.ConnBot, map[string]string{"token": token, "base_url": srv.URL + "/api"}, "", token)
	if err != nil || msg != "Works: signed in to Slack workspace Acme as switchyard." {
		t.Fatalf("%q %v", msg, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/api/auth.test" {
		t.Fatalf("requests %+v", reqs)
	}
	_, err = conntest.TestConnection(t, slack.ConnBot, map[string]string{"token": "xoxb-wrong-secret", "base_url": srv.URL + "/api"}, "", "xoxb-wrong-secret")
	if err == nil || !strings.Contains(err.Error(), "invalid_auth") || !strings.Contains(err.Error(), "not valid") {
		t.Fatalf("wrong token: %v", err)
	}
}

// TestWebhookConnectionTest: an incoming webhook is tested with an empty
// message, which Slack refuses with no_text for a live URL.
func TestWebhookConnectionTest(t *testing.T) {
	const live = "/services/T000/B000/live-secret-part"
	srv := conntest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != live {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("no_service"))
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte("no_text"))
	})
	msg, err := conntest.TestConnection(t, slack.ConnWebhook, map[string]string{"url": srv.URL + live}, "", live, "live-secret-part")
	if err != nil || !strings.HasPrefix(msg, "Works") {
		t.Fatalf("%q %v", msg, err)
	}
	if r := srv.Requests()[0]; r.Method != "POST" || r.Body != "{}" {
		t.Fatalf("request %+v", r)
	}
	dead := "/services/T000/B000/dead-secret-part"
	_, err = conntest.TestConnection(t, slack.ConnWebhook, map[string]string{"url": srv.URL + dead}, "", dead, "dead-secret-part")
	if err == nil || !strings.Contains(err.Error(), "404 no_service") {
		t.Fatalf("dead URL: %v", err)
	}
}
