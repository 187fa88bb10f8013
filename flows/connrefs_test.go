package flows

import (
	"fmt"
	"testing"
)

func TestConnectionRefs(t *testing.T) {
	f, err := Decode([]byte(`{"id": "f", "name": "f", "enabled": true,
	  "trigger": {"type": "webhook", "path": "p", "verify": {"scheme": "hmac", "secret": "sig", "secrets": ["sig_old"], "header": "X-Sig"}},
	  "steps": [
	    {"id": "a", "use": "http.request", "with": {"url": "https://example.com", "connection": "crm"}},
	    {"id": "b", "use": "http.request", "with": {"url": "https://example.com", "connection": "{{ trigger.body.conn }}"}},
	    {"id": "c", "switch": [{"when": "true", "steps": [
	      {"id": "d", "use": "http.request", "with": {"url": "https://example.com", "connection": "erp"}}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, r := range ConnectionRefs(f) {
		got += fmt.Sprintf("%s=%s ", r.Field, r.Name)
	}
	// The templated name of step b is known only when it runs.
	want := "trigger.verify.secret=sig trigger.verify.secrets[0]=sig_old steps[0].with.connection=crm steps[2].switch[0].steps[0].with.connection=erp "
	if got != want {
		t.Errorf("refs:\n got %s\nwant %s", got, want)
	}
}
