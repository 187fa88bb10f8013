package connectors

import (
	"fmt"
	"net/http"
	"strings"
)

// ValidHeaderName reports whether name is an HTTP header field name (an
// RFC 9110 token).
func ValidHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether value may be sent as a header value: no
// control characters other than horizontal tab (in particular no CR or LF,
// which would split the header).
func ValidHeaderValue(value string) bool {
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == 0x7f || c < 0x20 && c != '\t' {
			return false
		}
	}
	return true
}

// CheckHeader returns a *ConfigError naming field when name or value cannot
// be sent as an HTTP header.
func CheckHeader(field, name, value string) error {
	if !ValidHeaderName(name) {
		return &ConfigError{Field: field, Msg: fmt.Sprintf("%q is not a valid header name", name)}
	}
	if !ValidHeaderValue(value) {
		return &ConfigError{Field: field + "." + name, Msg: "header value holds a line break or control character"}
	}
	return nil
}

// LowerHeaders flattens h into lower-case names mapped to their values,
// several values joined with ", ", the shape flows see as `headers`.
func LowerHeaders(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for name, values := range h {
		out[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	return out
}
