package web

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors"
	_ "github.com/switchyard/switchyard/connectors/all"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
)

// dummyValues fills a connection type's required fields with values its
// validation accepts.
func dummyValues(t *testing.T, typ string) map[string]string {
	t.Helper()
	ct, err := connectors.LookupConnectionType(typ)
	if err != nil {
		t.Fatalf("connection type %s: %v", typ, err)
	}
	out := map[string]string{}
	for _, f := range ct.Fields {
		switch {
		case strings.Contains(f.Name, "url"):
			out[f.Name] = "https://service.example.com"
		case f.Type == connectors.TypeNumber:
			out[f.Name] = "587"
		case f.Type == connectors.TypeSelect && len(f.Options) > 0:
			out[f.Name] = f.Options[0]
		case f.Required || f.Type == connectors.TypeSecret:
			out[f.Name] = "xoxb-test-" + f.Name
		}
	}
	return out
}

// TestTemplateGallery: "New flow" offers the ready flows with a line and
// the connections each needs; every template opens in the builder unsaved
// with its connection settings marked, and saves once they are chosen.
func TestTemplateGallery(t *testing.T) {
	f := newFixture(t, engine.Config{})
	b := signIn(t, f.srv)

	_, page := b.do("GET", "/flows/new", nil)
	for _, id := range []string{"chatbot-lead-to-hubspot-slack", "form-to-pipedrive-and-email", "stripe-payment-to-salesforce",
		"github-push-to-slack", "daily-digest", "urgent-tickets"} {
		card := regexp.MustCompile(`(?s)<li class="template" id="template-` + id + `">.*?</li>`).FindString(page)
		if card == "" {
			t.Errorf("the gallery lacks %s", id)
			continue
		}
		if !strings.Contains(card, `class="template-summary"`) || !strings.Contains(card, "Needs") ||
			!strings.Contains(card, `href="/flows/new?template=`+id+`"`) {
			t.Errorf("card %s: %s", id, card)
		}
	}
	if card := regexp.MustCompile(`(?s)<li class="template" id="template-chatbot-lead-to-hubspot-slack">.*?</li>`).FindString(page); !strings.Contains(card, "HubSpot private app connection") || !strings.Contains(card, "Slack") {
		t.Errorf("chatbot card does not name its connections: %s", card)
	}

	entries, err := gallery()
	if err != nil || len(entries) < 8 {
		t.Fatalf("gallery: %d entries, %v", len(entries), err)
	}
	made := map[string]bool{}
	saved := 0
	for _, e := range entries {
		id := e.card.ID
		t.Run(id, func(t *testing.T) {
			r, page := b.do("GET", "/flows/new?template="+id, nil)
			if r.StatusCode != 200 {
				t.Fatalf("open: %d", r.StatusCode)
			}
			if strings.Contains(page, `id="templates"`) {
				t.Error("the gallery shows again under a chosen template")
			}
			if n := len(f.eng.Flows()); n != saved {
				t.Fatalf("opening a template saved it: %d flows, want %d", n, saved)
			}
			v := formValues(t, page)
			if v.Get("id") != slugID(v.Get("name")) || v.Get("_template") != id {
				t.Errorf("form id %q, template %q", v.Get("id"), v.Get("_template"))
			}
			// Every field to fill is marked and linked; fill each with
			// a connection of a fitting type.
			fill := regexp.MustCompile(`data-fill="([^"]*)"`).FindStringSubmatch(page)
			if len(e.card.Needs) > 0 && fill == nil {
				t.Fatalf("nothing marked to fill in, though it needs %q", e.card.Needs)
			}
			for _, n := range templateNeeds(mustTemplate(t, id), true) {
				anchor := strings.ReplaceAll(n.field, ".", "-")
				if fill == nil || !slices.Contains(strings.Fields(fill[1]), anchor) || !strings.Contains(page, `href="#`+anchor+`"`) {
					t.Errorf("%s is not marked to fill in", n.field)
				}
				if v.Get(n.field) != "" {
					t.Errorf("%s keeps the template's placeholder %q", n.field, v.Get(n.field))
				}
				typ := "http_bearer"
				if len(n.types) > 0 {
					typ = n.types[0]
				}
				name := "my_" + strings.ReplaceAll(typ, "-", "_")
				if !made[name] {
					body, _ := json.Marshal(map[string]any{"name": name, "type": typ, "values": dummyValues(t, typ)})
					if r, out := f.do(t, "POST", "/api/connections", "application/json", string(body)); r.StatusCode/100 != 2 {
						t.Fatalf("connection %s: %d %s", typ, r.StatusCode, out)
					}
					made[name] = true
				}
				v.Set(n.field, name)
			}
			for _, m := range secretRefRE.FindAllStringSubmatch(string(e.raw), -1) {
				if !made[m[1]] {
					body := fmt.Sprintf(`{"name": %q, "type": "secret", "values": {"value": "s3cret"}}`, m[1])
					if r, out := f.do(t, "POST", "/api/connections", "application/json", body); r.StatusCode/100 != 2 {
						t.Fatalf("connection %s: %d %s", m[1], r.StatusCode, out)
					}
					made[m[1]] = true
				}
			}
			r, page = b.builder("/flows/new", v, "save")
			if r.Header.Get("HX-Redirect") != "/flows/"+v.Get("id")+"/edit?flash=saved" {
				t.Fatalf("save: %d %s", r.StatusCode, errorSummary(page))
			}
			saved++
		})
	}

	// An edit keeps the marks until the settings are chosen.
	_, page = b.do("GET", "/flows/new?template=daily-digest", nil)
	v := formValues(t, page)
	v.Set("id", "digest-2")
	v.Set("trigger.path", "")
	_, page = b.builder("/flows/new", v, "add:steps:data.set")
	if !strings.Contains(page, `id="to-fill"`) || !strings.Contains(page, `name="_template" value="daily-digest"`) {
		t.Error("the marks to fill in are gone after an edit")
	}
	if r, _ := b.do("GET", "/flows/new?template=nope", nil); r.StatusCode != 404 {
		t.Errorf("unknown template: %d", r.StatusCode)
	}
}

func mustTemplate(t *testing.T, id string) *flows.Flow {
	t.Helper()
	f, _, ok := templateFlow(id)
	if !ok {
		t.Fatalf("template %s", id)
	}
	return f
}
