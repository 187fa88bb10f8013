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
