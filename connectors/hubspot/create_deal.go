package hubspot

import (
	"context"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

// CreateDealID is the connector id of the deal creation.
const CreateDealID = "hubspot.create_deal"

// Association of a new deal with a contact: HubSpot's default (unlabelled)
// deal-to-contact association type.
const (
	AssociationCategory      = "HUBSPOT_DEFINED"
	DealToContactAssocTypeID = 3
)

// Config keys of hubspot.create_deal. The named ones are HubSpot's deal
// property names.
const (
	fieldDealName           = "dealname"
	fieldAmount             = "amount"
	fieldPipeline           = "pipeline"
	fieldDealStage          = "dealstage"
	fieldCloseDate          = "closedate"
	fieldAssociateContactID = "associate_contact_id"
)

// CreateDeal is the hubspot.create_deal connector: POST
// /crm/v3/objects/deals, optionally associated with a contact.
type CreateDeal struct{}

// Spec describes hubspot.create_deal.
func (*CreateDeal) Spec() connectors.Spec {
	return connectors.Spec{
		ID:       CreateDealID,
		Category: "CRM",
		Label:    "HubSpot: create a deal",
		Help: "Creates a deal in HubSpot, optionally linked to a contact. " +
			"The output is the new deal: steps.<id>.output.id is its HubSpot record ID and steps.<id>.output.properties its values. " +
			"Rate limits and HubSpot outages are retried; other errors, such as an unknown deal stage, fail the step with HubSpot's message.",
		SideEffects: true,
		Fields: []connectors.Field{
			connectionField(),
			{Name: fieldDealName, Label: "Deal name", Type: connectors.TypeString, Required: true,
				Help: "What the deal is called in HubSpot, e.g. Acme Corp – 50 seats."},
			{Name: fieldAmount, Label: "Amount", Type: connectors.TypeNumber,
				Help: "The deal's value, a plain number such as 1500 or 1500.50, in the account's currency."},
			{Name: fieldPipeline, Label: "Pipeline", Type: connectors.TypeString,
				Help: "The pipeline's internal ID; default is the sales pipeline. Find IDs in HubSpot under Settings > Objects > Deals > Pipelines."},
			{Name: fieldDealStage, Label: "Deal stage", Type: connectors.TypeString,
				Help: "The stage's internal ID, such as appointmentscheduled, qualifiedtobuy or closedwon for the default pipeline."},
			{Name: fieldCloseDate, Label: "Close date", Type: connectors.TypeString,
				Help: "When the deal is expected to close, as a date such as 2025-03-31 or a date and time such as 2025-03-31T17:00:00Z."},
			{Name: fieldAssociateContactID, Label: "Contact to link", Type: connectors.TypeString,
				Help: "The HubSpot record ID of a contact to link the deal to, e.g. {{ steps.contact.output.id }}."},
			{Name: fieldProperties, Label: "Other deal properties", Type: connectors.TypeKeyValue, Advanced: true,
				Help: "More values by HubSpot's internal property name, such as hubspot_owner_id, dealtype or your own properties."},
		},
	}
}

// Execute creates the deal, or in a dry run describes the request.
func (*CreateDeal) Execute(ctx context.Context, in connectors.Input) (connectors.Result, error) {
	return execute(ctx, in, CreateDealID, buildCreateDeal)
}

func buildCreateDeal(in connectors.Input) (*client, call, error) {
	c, err := newClient(CreateDealID, in.Connection)
	if err != nil {
		return nil, call{}, err
	}
	props, err := readProperties(in.Config, fieldProperties)
	if err != nil {
		return nil, call{}, err
	}
	name, err := connectors.ConfigRequired(in.Config, fieldDealName)
	if err != nil {
		return nil, call{}, err
	}
	if err := setProperty(props, fieldDealName, name, fieldDealName); err != nil {
		return nil, call{}, err
	}
	if _, ok, err := connectors.ConfigNumber(in.Config, fieldAmount); err != nil {
		return nil, call{}, err
	} else if ok {
		amount, _ := connectors.ConfigString(in.Config, fieldAmount)
		if err := setProperty(props, fieldAmount, strings.TrimSpace(amount), fieldAmount); err != nil {
			return nil, call{}, err
		}
	}
	for _, key := range []string{fieldPipeline, fieldDealStage, fieldCloseDate} {
		s, err := connectors.ConfigString(in.Config, key)
		if err != nil {
			return nil, call{}, err
		}
		if s = strings.TrimSpace(s); s != "" {
			if err := setProperty(props, key, s, key); err != nil {
				return nil, call{}, err
			}
		}
	}
	body := map[string]any{"properties": props}
	contactID, err := connectors.ConfigString(in.Config, fieldAssociateContactID)
	if err != nil {
		return nil, call{}, err
	}
	if contactID = strings.TrimSpace(contactID); contactID != "" {
		body["associations"] = []any{map[string]any{
			"to": map[string]any{"id": contactID},
			"types": []any{map[string]any{
				"associationCategory": AssociationCategory,
				"associationTypeId":   DealToContactAssocTypeID,
			}},
		}}
	}
	return c, call{method: http.MethodPost, path: []string{"crm", "v3", "objects", "deals"}, body: body}, nil
}

var _ connectors.Connector = (*CreateDeal)(nil)
