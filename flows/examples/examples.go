// Package examples holds the example flows (the *.json files beside this
// file), embedded so the UI can offer them as templates.
package examples

import "embed"

// Files are the example flows, one JSON file each, named after the flow id.
//
//go:embed *.json
var Files embed.FS
