package hubspot_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors/hubspot"
	"github.com/switchyard/switchyard/connectors/internal/conntest"
)

// TestConnectionTest: the HubSpot test reads the account information
// (GET /account-info/v3/details with the private app's bearer token).
func TestConnectionTest(t *testing.T) {
	const token = "pat-na1-secret-token"
	srv := conntest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION", "correlationId": "c-1"}`))
			return
		}
		w.Write([]byte(`{"portalId": 62515, "accountType": "STANDARD", "timeZone": "US/Eastern", "companyCurrency": "USD", "uiDomain": "app.hubspot.com"}`))
	})
	msg, err := conntest.TestConnection(t, hubspot.ConnType, map[string]string{"token": token, "base_url": srv.URL}, "", token)
	if err != nil || msg != "Works: connected to HubSpot account 62515 (STANDARD)." {
		t.Fatalf("%q %v", msg, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/account-info/v3/details" || reqs[0].Body != "" {
		t.Fatalf("requests %+v", reqs)
	}
	_, err = conntest.TestConnection(t, hubspot.ConnType, map[string]string{"token": "pat-wrong", "base_url": srv.URL}, "", "pat-wrong")
	if err == nil || !strings.Contains(err.Error(), "INVALID_AUTHENTICATION") {
		t.Fatalf("wrong token: %v", err)
	}
}
