package salesforce_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors/internal/conntest"
	"github.com/switchyard/switchyard/connectors/salesforce"
)

// TestConnectionTest: with a client id and secret the Salesforce test asks
// the token endpoint for a token (the OAuth client-credentials POST);
// with an access token it reads the org's limits.
func TestConnectionTest(t *testing.T) {
	const secret, access = "consumer-secret-xyz", "00Dxx!access-token"
	var srv *conntest.Server
	srv = conntest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/services/oauth2/token":
			reqs := srv.Requests()
			form, _ := url.ParseQuery(reqs[len(reqs)-1].Body)
			if form.Get("grant_type") != "client_credentials" || form.Get("client_id") != "cid" || form.Get("client_secret") != secret {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"error": "invalid_client", "error_description": "invalid client credentials"}`))
				return
			}
			w.Write([]byte(`{"access_token": "fetched-token", "instance_url": "https://acme.my.salesforce.com", "token_type": "Bearer"}`))
		case r.Header.Get("Authorization") == "Bearer "+access:
			w.Write([]byte(`{"DailyApiRequests": {"Max": 15000, "Remaining": 14998}}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]`))
		}
	})
	host := strings.TrimPrefix(srv.URL, "http://")
	msg, err := conntest.TestConnection(t, salesforce.ConnType, map[string]string{"instance_url": srv.URL, "client_id": "cid", "client_secret": secret}, "", secret)
	if err != nil || msg != "Works: Salesforce issued a token for "+host+"." {
		t.Fatalf("client credentials: %q %v", msg, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("requests %+v", reqs)
	}
	_, err = conntest.TestConnection(t, salesforce.ConnType, map[string]string{"instance_url": srv.URL, "client_id": "cid", "client_secret": "wrong-secret"}, "", "wrong-secret")
	if err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("wrong secret: %v", err)
	}
	msg, err = conntest.TestConnection(t, salesforce.ConnType, map[string]string{"instance_url": srv.URL, "access_token": access}, "", access)
	if err != nil || !strings.HasPrefix(msg, "Works") {
		t.Fatalf("access token: %q %v", msg, err)
	}
	if r := srv.Requests()[2]; r.Method != "GET" || r.Path != "/services/data/"+salesforce.DefaultAPIVersion+"/limits" {
		t.Fatalf("limits request %+v", r)
	}
	_, err = conntest.TestConnection(t, salesforce.ConnType, map[string]string{"instance_url": srv.URL, "access_token": "expired-token"}, "", "expired-token")
	if err == nil || !strings.Contains(err.Error(), "INVALID_SESSION_ID") {
		t.Fatalf("expired token: %v", err)
	}
}
