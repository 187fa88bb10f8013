package web

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/flows/examples"
	"github.com/switchyard/switchyard/web/views"
)

// The "New flow" gallery: ready flows from flows/examples. Choosing one
// opens it in the builder, unsaved, with every connection it needs that
// the user does not have marked to fill in.

// galleryOrder is the gallery's order and each template's one line;
// examples not listed come after, with their own description.
var galleryOrder = []struct{ id, title, summary string }{
	{"chatbot-lead-to-hubspot-slack", "Chatbot lead → HubSpot → Slack", "Create or update the lead's HubSpot contact and tell the sales channel."},
	{"form-to-pipedrive-and-email", "Contact form → Pipedrive + email", "Add the person and a deal in Pipedrive, then email the sender a confirmation."},
	{"stripe-payment-to-salesforce", "Stripe payment → Salesforce", "Record every successful Stripe payment as a Salesforce opportunity."},
	{"github-push-to-slack", "GitHub push → Slack", "Announce every push with commits in a Slack channel."},
	{"daily-digest", "Daily digest on a schedule", "Every weekday at 08:00, fetch yesterday's numbers and post them to Slack."},
	{"urgent-tickets", "Poll an API for new tickets", "Check the helpdesk every 5 minutes and page on-call for urgent tickets."},
	{"orders-router", "Route paid orders by amount", "Send big orders to the CRM at once and small ones to the mailer later."},
	{"chatbot-faq", "Answer chatbot FAQ questions", "Look the question up in your FAQ service and answer the chatbot right away."},
	{"github-push-notifier", "GitHub push → any chat (HTTP)", "Post a summary of every push to a chat service over HTTP."},
}

// galleryEntry is one template: its card and the flow's JSON.
type galleryEntry struct {
	card views.TemplateCard
	raw  []byte
}

var (
	galleryOnce    sync.Once
	galleryEntries []galleryEntry
	galleryErr     error
)

// gallery loads the embedded examples once.
func gallery() ([]galleryEntry, error) {
	galleryOnce.Do(func() {
		names, err := fs.Glob(examples.Files, "*.json")
		if err != nil {
			galleryErr = err
			return
		}
		rank := map[string]int{}
		for i, g := range galleryOrder {
			rank[g.id] = i
		}
		for _, name := range names {
			raw, err := examples.Files.ReadFile(name)
			if err != nil {
				galleryErr = err
				return
			}
			f, err := flows.Decode(raw)
			if err != nil {
				galleryErr = fmt.Errorf("web: template %s: %w", name, err)
				return
			}
			card := views.TemplateCard{ID: f.ID, Title: f.Name, Summary: f.Description, Trigger: triggerWords(&f.Trigger)}
			if i, ok := rank[f.ID]; ok {
				card.Title, card.Summary = galleryOrder[i].title, galleryOrder[i].summary
			}
			for _, n := range templateNeeds(f, false) {
				card.Needs = append(card.Needs, n.what)
			}
			card.Needs = slices.Compact(card.Needs)
			galleryEntries = append(galleryEntries, galleryEntry{card: card, raw: raw})
		}
		sort.SliceStable(galleryEntries, func(i, j int) bool {
			ri, iok := rank[galleryEntries[i].card.ID]
			rj, jok := rank[galleryEntries[j].card.ID]
			if iok != jok {
				return iok
			}
			return ri < rj
		})
	})
	return galleryEntries, galleryErr
}

// templateFlow decodes a fresh copy of a template's flow.
func templateFlow(id string) (*flows.Flow, string, bool) {
	entries, err := gallery()
	if err != nil {
		return nil, "", false
	}
	for _, e := range entries {
		if e.card.ID == id {
			f, err := flows.Decode(e.raw)
			return f, e.card.Title, err == nil
		}
	}
	return nil, "", false
}

// triggerWords says in a few words what starts a flow.
func triggerWords(t *flows.Trigger) string {
	switch t.Type {
	case flows.TriggerWebhook:
		return "Starts when a webhook arrives"
	case flows.TriggerSchedule:
		return "Runs " + lowerFirst(views.ScheduleWords(t.Cron, t.Timezone))
	case flows.TriggerPoll:
		return "Checks an API for new items, " + lowerFirst(views.ScheduleWords(t.Cron, t.Timezone))
	case flows.TriggerCall:
		return "Called by other flows"
	}
	return "Started by hand"
}

// need is one connection a flow names: the form field that holds it, the
// connection's name in the flow and the types that fit.
type need struct {
	field string   // form name, e.g. steps.0.with.connection
	name  string   // the connection the flow names
	types []string // accepted connection types (empty: any)
	what  string   // what to tell the user, e.g. "Slack connection"
}

// templateNeeds lists every connection field of a flow that names a
// connection, in form order; withEmpty adds the required ones left empty.
func templateNeeds(f *flows.Flow, withEmpty bool) []need {
	var out []need
	t := &f.Trigger
	if t.Verify != nil && (t.Verify.Secret != "" || withEmpty && t.Verify.Scheme != flows.VerifyNone) {
		out = append(out, need{field: "trigger.verify.secret", name: t.Verify.Secret, types: []string{"secret"},
			what: verifyWords(t.Verify.Scheme) + " signing secret"})
	}
	if t.Request != nil && t.Request.Connection != "" {
		out = append(out, need{field: "trigger.request.connection", name: t.Request.Connection, what: "API credential for polling"})
	}
	flows.Walk(f.Steps, func(path string, s *flows.Step) {
		c, err := connectors.Lookup(s.Use)
		if err != nil {
			return
		}
		for _, fd := range c.Spec().Fields {
			if fd.Type != connectors.TypeConnection {
				continue
			}
			name, _ := s.With[fd.Name].(string)
			if name == "" && !(withEmpty && fd.Required) {
				continue
			}
			out = append(out, need{field: views.FormName(path) + ".with." + fd.Name, name: name, types: fd.ConnectionTypes,
				what: connectionWords(fd.ConnectionTypes)})
		}
	})
	return out
}

// secretRefRE finds the connections a template reads in expressions.
var secretRefRE = regexp.MustCompile(`secrets\.([A-Za-z_][A-Za-z0-9_]*)`)

// verifyWords names a signature scheme's provider, "Webhook" for the
// generic schemes.
func verifyWords(scheme string) string {
	if name, ok := views.ProviderName(scheme); ok {
		return name
	}
	return "Webhook"
}

// connectionWords names what kind of connection a field takes: the
// connection type's label when there is one type ("Slack bot token").
func connectionWords(types []string) string {
	if len(types) == 1 {
		if ct, err := connectors.LookupConnectionType(types[0]); err == nil {
			return ct.Label + " connection"
		}
	}
	return "API credential"
}

// markToFill lists every connection field of a template's flow that names
// no connection the user has (of a fitting type), so the builder marks
// them; with clear it also empties them (the template's placeholder
// names), so Save asks for them.
func markToFill(f *flows.Flow, conns []engine.ConnectionInfo, clear bool) []views.Problem {
	have := map[string]string{}
	for _, c := range conns {
		have[c.Name] = c.Type
	}
	var out []views.Problem
	for _, n := range templateNeeds(f, true) {
		typ, ok := have[n.name]
		if ok && (len(n.types) == 0 || slices.Contains(n.types, typ)) {
			continue
		}
		if clear {
			setNeed(f, n.field)
		}
		out = append(out, views.Problem{Field: n.field, Message: "choose your " + n.what + " (or add one under Connections)",
			Anchor: views.ID(n.field)})
	}
	// Connections read in expressions: named so the user can create them.
	raw, _ := flows.Encode(f)
	seen := map[string]bool{}
	for _, m := range secretRefRE.FindAllStringSubmatch(string(raw), -1) {
		if _, ok := have[m[1]]; ok || seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		out = append(out, views.Problem{Field: "secrets." + m[1], Message: "add a connection named " + strconv.Quote(m[1]) + " under Connections; the flow reads it"})
	}
	return out
}

// setNeed clears one connection field (a template's placeholder name).
func setNeed(f *flows.Flow, field string) {
	switch field {
	case "trigger.verify.secret":
		f.Trigger.Verify.Secret = ""
		return
	case "trigger.request.connection":
		f.Trigger.Request.Connection = ""
		return
	}
	sp, key, ok := strings.Cut(field, ".with.")
	if !ok {
		return
	}
	if list, i := stepAt(f, sp); list != nil {
		delete((*list)[i].With, key)
	}
}

// openTemplate fills the builder of a new flow with a template's flow.
func openTemplate(p *views.BuilderProps, id string) bool {
	f, title, ok := templateFlow(id)
	if !ok {
		return false
	}
	// The id follows the name, as for any new flow, until the first save.
	f.ID = slugID(f.Name)
	p.Flow, p.Template, p.TemplateTitle = f, id, title
	p.ToFill = markToFill(f, p.Connections, true)
	p.Notice = "This is the template “" + title + "”, not saved yet: change what you like, fill in the marked settings, then Save."
	return true
}

// keepTemplate carries a new flow's template across builder edits: the
// settings still to fill stay marked until saved.
func keepTemplate(p *views.BuilderProps, id string) {
	if id == "" || !p.New {
		return
	}
	if _, title, ok := templateFlow(id); ok {
		p.Template, p.TemplateTitle = id, title
		p.ToFill = markToFill(p.Flow, p.Connections, false)
	}
}

// lowerFirst lower-cases a phrase's first letter ("Every 5m" → "every 5m").
func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}
