package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// connFlow is a webhook flow whose one step sends with connection conn.
func connFlow(id, conn string) map[string]any {
	return map[string]any{
		"id": id, "name": id, "enabled": true,
		"trigger": map[string]any{"type": "webhook", "path": id},
		"steps": []any{map[string]any{"id": "send", "use": "http.request",
			"with": map[string]any{"method": "POST", "url": "http://127.0.0.1:9/x", "connection": conn}}},
	}
}

// TestConnectionsInUse: a flow naming a missing connection is refused at
// save with the field path; a connection flows use is not deleted without
// force (409 naming them); `flows validate --data` checks the same.
func TestConnectionsInUse(t *testing.T) {
	in := newInstance(t)
	in.start()

	// Saving a flow that names a connection nobody made is refused, like
	// an unknown connector, with the field path.
	code, body := in.api("POST", "/api/flows", connFlow("orders", "crm"))
	if code != 400 || !strings.Contains(string(body), `"field":"steps[0].with.connection"`) || !strings.Contains(string(body), `connection \"crm\" does not exist`) {
		t.Fatalf("save with a missing connection: %d %s", code, body)
	}
	// A connection of the wrong type is refused too.
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "sig", "type": "secret", "values": map[string]string{"value": "s3cr3t-value"}})
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "crm", "type": "http_bearer", "values": map[string]string{"token": "tok-1"}})
	verifyFlow := connFlow("signed", "crm")
	verifyFlow["trigger"].(map[string]any)["verify"] = map[string]any{"scheme": "hmac", "secret": "crm", "header": "X-Sig"}
	code, body = in.api("POST", "/api/flows", verifyFlow)
	if code != 400 || !strings.Contains(string(body), `"field":"trigger.verify.secret"`) {
		t.Fatalf("verify secret of the wrong type: %d %s", code, body)
	}

	in.mustAPI(201, "POST", "/api/flows", connFlow("orders", "crm"))
	in.mustAPI(201, "POST", "/api/flows", connFlow("leads", "crm"))

	// Deleting it answers 409 with the flows, and keeps it.
	code, body = in.api("DELETE", "/api/connections/crm", nil)
	var conflict struct {
		Error string   `json:"error"`
		Flows []string `json:"flows"`
	}
	if err := json.Unmarshal(body, &conflict); err != nil || code != 409 || strings.Join(conflict.Flows, ",") != "leads,orders" {
		t.Fatalf("delete in use: %d %s", code, body)
	}
	if !strings.Contains(string(in.mustAPI(200, "GET", "/api/connections", nil)), `"name":"crm"`) {
		t.Fatal("a refused delete removed the connection")
	}
	if code, body := in.api("DELETE", "/api/connections/crm?force=maybe", nil); code != 400 {
		t.Fatalf("force=maybe: %d %s", code, body)
	}
	// An unused connection goes at once; a missing one is 404.
	in.mustAPI(204, "DELETE", "/api/connections/sig", nil)
	in.mustAPI(404, "DELETE", "/api/connections/sig", nil)

	// With force it goes; the flows stay, and saving one again is refused
	// until the connection exists again.
	in.mustAPI(204, "DELETE", "/api/connections/crm?force=true", nil)
	if strings.Contains(string(in.mustAPI(200, "GET", "/api/connections", nil)), `"name":"crm"`) {
		t.Fatal("a forced delete kept the connection")
	}
	code, body = in.api("PUT", "/api/flows/orders", connFlow("orders", "crm"))
	if code != 400 || !strings.Contains(string(body), "steps[0].with.connection") {
		t.Fatalf("save after the connection went: %d %s", code, body)
	}

	// `flows validate --data` knows the data dir's connections (read
	// while the server is stopped: the data dir has one owner).
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "erp", "type": "http_bearer", "values": map[string]string{"token": "tok-2"}})
	in.stop()
	dir := t.TempDir()
	write := func(name, conn string) string {
		data, _ := json.Marshal(connFlow(strings.TrimSuffix(name, ".json"), conn))
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, bad := write("good.json", "erp"), write("bad.json", "crm")
	out, err := exec.Command(in.bin, "flows", "validate", "--data", in.data, good, bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), bad+`:steps[0].with.connection: connection "crm" does not exist`) || strings.Contains(string(out), good+":") {
		t.Fatalf("flows validate --data: %v\n%s", err, out)
	}
	// Without a data dir only the flow itself is checked.
	if out, err := exec.Command(in.bin, "flows", "validate", bad).CombinedOutput(); err != nil {
		t.Fatalf("flows validate without --data: %v\n%s", err, out)
	}
}

// TestBrowserConnectionInUse: the connections page names the flows using
// each connection; deleting one of those asks first, listing them, and
// Cancel keeps it.
func TestBrowserConnectionInUse(t *testing.T) {
	needChromium(t)
	in := newInstance(t)
	in.start()
	b := newBrowser(t, in)
	b.setUp(brUser, brPassword)
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "crm", "type": "http_bearer", "values": map[string]string{"token": "tok-1"}})
	in.mustAPI(201, "POST", "/api/connections", map[string]any{"name": "spare", "type": "http_bearer", "values": map[string]string{"token": "tok-2"}})
	in.mustAPI(201, "POST", "/api/flows", connFlow("orders", "crm"))

	b.open("/connections")
	if got := b.text("#connection-users-crm"); got != "orders" {
		t.Errorf("used by of crm: %q", got)
	}
	if got := b.text("#connection-users-spare"); got != "no flow" {
		t.Errorf("used by of spare: %q", got)
	}
	b.click("#delete-connection-crm")
	b.visible("#connection-in-use")
	if got := b.text("#connection-in-use"); got != "orders" {
		t.Errorf("flows listed before delete: %q", got)
	}
	b.click("#cancel-delete-connection")
	b.visible("#connection-crm")

	b.click("#delete-connection-crm")
	b.click("#confirm-delete-connection")
	b.visible("#connection-spare")
	b.gone("#connection-crm")
	// An unused connection goes on one click.
	b.click("#delete-connection-spare")
	b.visible("#connections-empty")
}
