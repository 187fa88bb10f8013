package pipedrive_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors/internal/conntest"
	"github.com/switchyard/switchyard/connectors/pipedrive"
)

// TestConnectionTest: the Pipedrive test reads the token's own user
// (GET /v1/users/me with the API token), never sending the token in the
// URL.
func TestConnectionTest(t *testing.T) {
	const token = "0123456789abcdef-secret"
	srv := conntest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("x-api-token") != token {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"success": false, "error": "unauthorized access", "errorCode": 401, "error_info": "Please check developers.pipedrive.com"}`))
			return
		}
		w.Write([]byte(`{"success": true, "data": {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com", "company_name": "Acme", "company_domain": "acme"}}`))
	})
	msg, err := conntest.TestConnection(t, pipedrive.ConnType, map[string]string{"api_token": token, "base_url": srv.URL}, "", token)
	if err != nil || msg != "Works: signed in to Pipedrive as Ada Lovelace <ada@example.com> at Acme." {
		t.Fatalf("%q %v", msg, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Method != "GET" || !strings.HasSuffix(reqs[0].Path, "/v1/users/me") || strings.Contains(reqs[0].RequestURI, token) {
		t.Fatalf("requests %+v", reqs)
	}
	_, err = conntest.TestConnection(t, pipedrive.ConnType, map[string]string{"api_token": "wrong-secret", "base_url": srv.URL}, "", "wrong-secret")
	if err == nil || !strings.Contains(err.Error(), "unauthorized access") {
		t.Fatalf("wrong token: %v", err)
	}
}
