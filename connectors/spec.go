package connectors

// FieldType is the kind of value a field holds; it decides the UI widget and
// the validation applied at save time.
type FieldType string

// Field types a connector may declare.
const (
	TypeString   FieldType = "string"
	TypeText     FieldType = "text"
	TypeNumber   FieldType = "number"
	TypeBool     FieldType = "bool"
	TypeSelect   FieldType = "select"
	TypeSecret   FieldType = "secret"
	TypeJSON     FieldType = "json"
	TypeKeyValue FieldType = "key-value"
	// TypeConnection names a stored connection; Field.ConnectionTypes says
	// which connection types fit.
	TypeConnection FieldType = "connection"
	// TypeDuration is a Go duration string such as "30s" or "5m".
	TypeDuration FieldType = "duration"
	// TypeFlow names another flow by its id (the UI offers a picker).
	TypeFlow FieldType = "flow"
)

// Field describes one key of a step's `with`.
type Field struct {
	Name     string    `json:"name"`
	Label    string    `json:"label"`
	Help     string    `json:"help,omitempty"`
	Type     FieldType `json:"type"`
	Required bool      `json:"required,omitempty"`
	Default  any       `json:"default,omitempty"`
	// Options lists the allowed values of a select field.
	Options []string `json:"options,omitempty"`
	// Advanced fields are folded away in the UI.
	Advanced bool `json:"advanced,omitempty"`
	// ConnectionTypes lists the connection types a connection field accepts.
	ConnectionTypes []string `json:"connection_types,omitempty"`
	// Shape says what a json field usually holds, so the UI can offer a
	// form instead of JSON: ShapeObject is edited as rows of key, type
	// and value; ShapeList also takes plain text (e.g. addresses
	// separated by commas). Empty: any JSON.
	Shape string `json:"shape,omitempty"`
}

// Shapes of a json field (Field.Shape).
const (
	ShapeObject = "object"
	ShapeList   = "list"
)

// Spec is a connector's self-description.
type Spec struct {
	// ID is what a step's `use` names, e.g. "http.request".
	ID string `json:"id"`
	// Category groups connectors in the UI palette, e.g. "Core", "Chat".
	Category string  `json:"category"`
	Label    string  `json:"label"`
	Help     string  `json:"help,omitempty"`
	Fields   []Field `json:"fields"`
	// SideEffects is true when the connector changes something outside
	// Switchyard; dry runs skip such steps' effects.
	SideEffects bool `json:"side_effects"`
}

// Field returns the field with the given name, or false.
func (s Spec) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// ConnectionType describes a kind of stored credential (a connection),
// e.g. "secret" with one "value", or "slack" with a "token".
type ConnectionType struct {
	ID     string  `json:"id"`
	Label  string  `json:"label"`
	Help   string  `json:"help,omitempty"`
	Fields []Field `json:"fields"`
	// Testable is true when the type has a Tester (filled in by
	// ConnectionTypes and LookupConnectionType); TestNeedsURL when its
	// test needs a URL; TestHelp says what the test calls.
	Testable     bool   `json:"testable"`
	TestNeedsURL bool   `json:"test_needs_url,omitempty"`
	TestHelp     string `json:"test_help,omitempty"`
}
