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
// as text, a number, yes/no or JSON (objects and lists): simple values are
// written as they are, never as JSON.
type StoreForm struct {
	Page PageProps
	// New is true for "Add a value" (namespace and key are typed in).
	New       bool
	Namespace string
	Key       string
	// Type is one of StoreTypes' values; Value the text in the box.
	Type  string
	Value string
	TTL   string
	// Expires says when the value being edited expires now.
	Expires *time.Time
	Errors  map[string][]string
}

// The kinds of value the form offers.
const (
	StoreText   = "text"
	StoreNumber = "number"
	StoreBool   = "bool"
	StoreJSON   = "json"
)

// StoreTypes are the form's kinds of value, in the order offered.
var StoreTypes = [][2]string{{StoreText, "Text"}, {StoreNumber, "Number"}, {StoreBool, "Yes / no"}, {StoreJSON, "List or object (JSON)"}}

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
