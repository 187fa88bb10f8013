package httpreq_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors/httpreq"
	"github.com/switchyard/switchyard/connectors/internal/conntest"
)

// TestConnectionTest: a generic connection is tried with GET against the
// URL the user gives, its credential sent as http.request sends it.
func TestConnectionTest(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ada:pa55-secret"))
	srv := conntest.NewServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") + r.Header.Get("X-Api-Key") {
		case "Bearer tok-secret", basic, "key-secret":
			w.Write([]byte(`{"me": "ok"}`))
		default:
			// Some services echo what they got; the message must not.
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte("bad credential " + r.Header.Get("Authorization")))
		}
	})
	for _, tc := range []struct {
		typ     string
		values  map[string]string
		secrets []string
		ok      bool
	}{
		{httpreq.ConnBearer, map[string]string{"token": "tok-secret"}, []string{"tok-secret"}, true},
		{httpreq.ConnBasic, map[string]string{"username": "ada", "password": "pa55-secret"}, []string{"pa55-secret", basic}, true},
		{httpreq.ConnHeader, map[string]string{"name": "X-API-Key", "value": "key-secret"}, []string{"key-secret"}, true},
		{httpreq.ConnBearer, map[string]string{"token": "wrong-secret"}, []string{"wrong-secret"}, false},
		{httpreq.ConnBasic, map[string]string{"username": "ada", "password": "nope-secret"}, []string{"nope-secret", base64.StdEncoding.EncodeToString([]byte("ada:nope-secret"))}, false},
	} {
		msg, err := conntest.TestConnection(t, tc.typ, tc.values, srv.URL+"/me", tc.secrets...)
		if tc.ok && (err != nil || msg != "Works: GET "+srv.URL+"/me answered 200.") {
			t.Errorf("%s: %q %v", tc.typ, msg, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "refused the credential")) {
			t.Errorf("%s: %q %v", tc.typ, msg, err)
		}
	}
	if _, err := conntest.TestConnection(t, httpreq.ConnBearer, map[string]string{"token": "t"}, ""); err == nil || !strings.Contains(err.Error(), "give the URL") {
		t.Errorf("no URL: %v", err)
	}
	if _, err := conntest.TestConnection(t, httpreq.ConnBearer, map[string]string{"token": "t"}, "ftp://x"); err == nil || !strings.Contains(err.Error(), "http://") {
		t.Errorf("ftp URL: %v", err)
	}
}
