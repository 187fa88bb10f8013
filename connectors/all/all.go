// Package all registers every built-in connector; cmd imports it for its
// side effects.
package all

import (
	// Each package registers its connector in init.
	_ "github.com/switchyard/switchyard/connectors/dataset"
	_ "github.com/switchyard/switchyard/connectors/delay"
	_ "github.com/switchyard/switchyard/connectors/email"
	_ "github.com/switchyard/switchyard/connectors/flowcall"
	_ "github.com/switchyard/switchyard/connectors/httpreq"
	_ "github.com/switchyard/switchyard/connectors/hubspot"
	_ "github.com/switchyard/switchyard/connectors/pipedrive"
	_ "github.com/switchyard/switchyard/connectors/respond"
	_ "github.com/switchyard/switchyard/connectors/salesforce"
	_ "github.com/switchyard/switchyard/connectors/slack"
	_ "github.com/switchyard/switchyard/connectors/stdwebhook"
	_ "github.com/switchyard/switchyard/connectors/store"
)
