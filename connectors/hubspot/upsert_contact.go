package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

// UpsertContactID is the connector id of the contact upsert.
const UpsertContactID = "hubspot.upsert_contact"

// Config keys of hubspot.upsert_contact.
const fieldEmail = "email"

// UpsertContact is the hubspot.upsert_contact connector: it creates the
// contact with the given email, or updates it when it exists, through
// POST /crm/v3/objects/contacts/batch/upsert with idProperty "email".
type UpsertContact struct{}

// Spec describes hubspot.upsert_contact.
func (*UpsertContact) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       UpsertContactID,
		Category: "CRM",
		Label:    "HubSpot: create or update a contact",
		Help: "Finds the HubSpot contact with this email and updates it, or creates it when there is none. " +
			"The output is the contact: steps.<id>.output.id is its HubSpot record ID, steps.<id>.output.created is true when it was new, and steps.<id>.output.properties holds the values written. " +
			"Rate limits and HubSpot outages are retried; other errors, such as an unknown property, fail the step with HubSpot's message.",
		SideEffects: true,
		Fields: []connectors.Field{
			connectionField(),
			{Name: fieldEmail, Label: "Email", Type: connectors.TypeString, Required: true,
				Help: "The contact's email address; it decides whether the contact is created or updated."},
			{Name: fieldProperties, Label: "Contact properties", Type: connectors.TypeKeyValue,
				Help: "Values to write, by HubSpot's internal property name: firstname, lastname, phone, company, jobtitle, website, lifecyclestage (e.g. lead, customer) or your own properties. " +
					"An empty value clears the property; several checkbox values are written separated by ;."},
		},
	}
}

// Execute upserts the contact, or in a dry run describes the request.
func (*UpsertContact) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	c, k, email, err := buildUpsert(in)
	if err != nil {
		return connectors.Result{}, connectors.Permanent(fmt.Errorf("%s: %w", UpsertContactID, err))
	}
	if in.DryRun {
		return connectors.Result{Output: c.dryRun(k)}, nil
	}
	_, obj, err := c.do(ctx, in.HTTP, k)
	if err != nil {
		return connectors.Result{}, err
	}
	contact, err := upsertResult(obj, c.service(k), email)
	if err != nil {
		return connectors.Result{}, connectors.Scrub(err, c.token)
	}
	return connectors.Result{Output: contact}, nil
}

func buildUpsert(in connectors.Input) (*client, call, string, error) {
	c, err := newClient(UpsertContactID, in.Connection)
	if err != nil {
		return nil, call{}, "", err
	}
	email, err := connectors.ConfigRequired(in.Config, fieldEmail)
	if err != nil {
		return nil, call{}, "", err
	}
	if !strings.Contains(email, "@") || strings.ContainsAny(email, " \t\r\n") {
		return nil, call{}, "", &connectors.ConfigError{Field: fieldEmail, Msg: fmt.Sprintf("%q is not an email address", email)}
	}
	props, err := readProperties(in.Config, fieldProperties)
	if err != nil {
		return nil, call{}, "", err
	}
	// A contact created by the upsert should carry its email as a
	// property too, whatever HubSpot does with the id alone.
	if err := setProperty(props, fieldEmail, email, fieldEmail); err != nil {
		return nil, call{}, "", err
	}
	k := call{
		method: http.MethodPost,
		path:   []string{"crm", "v3", "objects", "contacts", "batch", "upsert"},
		body: map[string]any{"inputs": []any{map[string]any{
			"idProperty": fieldEmail,
			"id":         email,
			"properties": props,
		}}},
	}
	return c, k, email, nil
}

// upsertResult picks the one contact out of a batch answer:
// {"status": "COMPLETE", "results": [{id, properties, createdAt,
// updatedAt, archived, new}], ...}. A batch answer may carry errors (207
// Multi-Status) instead of a result; they fail the step.
func upsertResult(obj map[string]any, service, email string) (map[string]any, error) {
	results, _ := obj["results"].([]any)
	if len(results) == 0 {
		msg, category := batchErrors(obj)
		if msg == "" {
			msg = "no contact in HubSpot's answer for " + email
		}
		return nil, connectors.Permanent(&APIError{Service: service, Status: http.StatusMultiStatus, Category: category, Message: msg})
	}
	contact, ok := results[0].(map[string]any)
	if !ok {
		return nil, connectors.Permanentf("%s: unexpected result in HubSpot's answer: %s", service, connectors.TypeName(results[0]))
	}
	out := make(map[string]any, len(contact)+1)
	for k, v := range contact {
		out[k] = v
	}
	if isNew, ok := contact["new"].(bool); ok {
		out["created"] = isNew
	}
	return out, nil
}

// batchErrors joins the messages of a batch answer's errors list.
func batchErrors(obj map[string]any) (msg, category string) {
	errs, _ := obj["errors"].([]any)
	var parts []string
	for _, e := range errs {
		m, _ := e.(map[string]any)
		if s, _ := m["message"].(string); s != "" {
			parts = append(parts, s)
		}
		if c, _ := m["category"].(string); c != "" && category == "" {
			category = c
		}
	}
	return connectors.Excerpt([]byte(strings.Join(parts, "; ")), 2*connectors.ExcerptLen), category
}

var _ connectors.Connector = (*UpsertContact)(nil)
