package views

import (
	"net/url"
	"strconv"
	"time"
)

// StoreProps is the Data store page: the namespaces, or one namespace's
// values.
type StoreProps struct {
	Page PageProps
	// Namespaces lists every namespace that holds values (the overview).
	Namespaces []StoreNamespace
	// Namespace, when set, is the namespace shown, with its Entries.
	Namespace string
	Entries   []StoreEntry
	// Next is the key after which the next page starts ("" : last page).
	Next string
	// Form is the "Add a value" form.
	Form StoreForm
}

// StoreNamespace is one row of the overview.
type StoreNamespace struct {
	Name  string
	Keys  int
	Bytes int64
	// Flow is set when a flow has this id: the namespace is its own.
	Flow bool
}

// StoreEntry is one value as the page shows it.
type StoreEntry struct {
	Key string
	// Pretty is the value as indented JSON.
	Pretty    string
	UpdatedAt time.Time
	ExpiresAt *time.Time
}

// StoreForm is the form that adds or edits one value. A value is typed
// as text, a number, yes/no, a list of text (one item per line) or named
// values (rows of name, kind and value); only what fits none of those,
// such as nested lists and objects, is written as JSON.
type StoreForm struct {
	Page PageProps
	// New is true for "Add a value" (namespace and key are typed in).
	New       bool
	Namespace string
	Key       string
	// Type is one of StoreTypes' values; Value the text in the box (every
	// kind but StoreObject), Rows the rows (StoreObject).
	Type  string
	Value string
	Rows  []StoreRow
	// TTLAmount and TTLUnit say how long the value is kept: a whole
	// number of StoreTTLUnits. An empty amount keeps the expiry the value
	// has (Expires), or none; TTLNever removes it.
	TTLAmount, TTLUnit string
	TTLNever           bool
	// Expires says when the value being edited expires now.
	Expires *time.Time
	Errors  map[string][]string
}

// StoreRow is one named value of an object: its name, its kind
// (StoreText, StoreNumber or StoreBool) and its text.
type StoreRow struct {
	Name, Type, Value string
}

// The kinds of value the form offers.
const (
	StoreText   = "text"
	StoreNumber = "number"
	StoreBool   = "bool"
	StoreList   = "list"
	StoreObject = "object"
	StoreJSON   = "json"
)

// StoreTypes are the form's kinds of value, in the order offered.
var StoreTypes = [][2]string{{StoreText, "Text"}, {StoreNumber, "Number"}, {StoreBool, "Yes / no"},
	{StoreList, "List of text (one item per line)"}, {StoreObject, "Named values (rows)"}, {StoreJSON, "Anything else (JSON)"}}

// StoreRowTypes are the kinds a named value can have.
var StoreRowTypes = [][2]string{{StoreText, "Text"}, {StoreNumber, "Number"}, {StoreBool, "Yes / no"}}

// storeBlankRows is how many empty rows follow the filled ones, for the
// names a user adds; "More rows" adds as many again.
const storeBlankRows = 3

// storeRows are the rows the form shows: the filled ones, then blanks.
func storeRows(f StoreForm) []StoreRow {
	rows := append([]StoreRow(nil), f.Rows...)
	for range storeBlankRows {
		rows = append(rows, StoreRow{Type: StoreText})
	}
	return rows
}

// storeValueHelp says how to write a value of the kind.
func storeValueHelp(kind string) string {
	switch kind {
	case StoreNumber:
		return "Digits, such as 42, -7 or 3.5."
	case StoreBool:
		return "yes or no."
	case StoreList:
		return "One item per line; each is kept as text. Empty lines are left out."
	case StoreJSON:
		return `JSON, for lists and objects inside each other, such as [{"sku": "A-1", "qty": 2}].`
	}
	return "Text as it is: no quotes needed."
}

// StoreDeleteProps asks before a value is deleted.
type StoreDeleteProps struct {
	Page      PageProps
	Namespace string
	Key       string
	Pretty    string
}

// storePath is the page of a namespace or a value (key escaped).
func storePath(ns string, key ...string) string {
	p := "/store/" + url.PathEscape(ns)
	for _, k := range key {
		p += "/" + url.PathEscape(k)
	}
	return p
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return itoa(int(n)) + " bytes"
}

func urlQuery(s string) string { return url.QueryEscape(s) }
