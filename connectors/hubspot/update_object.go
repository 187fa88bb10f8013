package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

// UpdateObjectID is the connector id of the record update.
const UpdateObjectID = "hubspot.update_object"

// Config keys of hubspot.update_object.
const (
	fieldObjectType = "object_type"
	fieldObjectID   = "object_id"
)

// UpdateObject is the hubspot.update_object connector: PATCH
// /crm/v3/objects/{objectType}/{objectId} with properties.
type UpdateObject struct{}

// Spec describes hubspot.update_object.
func (*UpdateObject) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       UpdateObjectID,
		Category: "CRM",
		Label:    "HubSpot: update a record",
		Help: "Changes properties of one HubSpot record, found by its record ID: a contact, company, deal, ticket or custom object. " +
			"The output is the updated record: steps.<id>.output.id and steps.<id>.output.properties. " +
			"Rate limits and HubSpot outages are retried; other errors, such as a record that does not exist, fail the step with HubSpot's message.",
		SideEffects: true,
		Fields: []connectors.Field{
			connectionField(),
			{Name: fieldObjectType, Label: "Record type", Type: connectors.TypeString, Required: true,
				Help: "contacts, companies, deals or tickets; for a custom object its name or object type ID (such as 2-1234567)."},
			{Name: fieldObjectID, Label: "Record ID", Type: connectors.TypeString, Required: true,
				Help: "The HubSpot record ID, e.g. {{ steps.contact.output.id }}."},
			{Name: fieldProperties, Label: "Properties", Type: connectors.TypeKeyValue, Required: true,
				Help: "Values to write, by HubSpot's internal property name (e.g. lifecyclestage, dealstage, phone). An empty value clears the property; several checkbox values are written separated by ;."},
		},
	}
}

// Execute updates the record, or in a dry run describes the request.
func (*UpdateObject) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	return execute(ctx, in, UpdateObjectID, buildUpdate)
}

func buildUpdate(in connectors.Input) (*client, call, error) {
	c, err := newClient(UpdateObjectID, in.Connection)
	if err != nil {
		return nil, call{}, err
	}
	objectType, err := connectors.ConfigRequired(in.Config, fieldObjectType)
	if err != nil {
		return nil, call{}, err
	}
	if !validObjectType(objectType) {
		return nil, call{}, &connectors.ConfigError{Field: fieldObjectType, Msg: fmt.Sprintf("%q is not a HubSpot object type such as contacts or deals", objectType)}
	}
	objectID, err := connectors.ConfigRequired(in.Config, fieldObjectID)
	if err != nil {
		return nil, call{}, err
	}
	if strings.ContainsAny(objectID, "/?#") {
		return nil, call{}, &connectors.ConfigError{Field: fieldObjectID, Msg: fmt.Sprintf("%q is not a record ID", objectID)}
	}
	props, err := readProperties(in.Config, fieldProperties)
	if err != nil {
		return nil, call{}, err
	}
	if len(props) == 0 {
		return nil, call{}, &connectors.ConfigError{Field: fieldProperties, Msg: "required: give at least one property to change"}
	}
	return c, call{
		method: http.MethodPatch,
		path:   []string{"crm", "v3", "objects", objectType, objectID},
		body:   map[string]any{"properties": props},
	}, nil
}

// validObjectType accepts object names (contacts, p_my_object) and object
// type IDs (0-1, 2-1234567).
func validObjectType(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
		default:
			return false
		}
	}
	return s != ""
}

var _ connectors.Connector = (*UpdateObject)(nil)
