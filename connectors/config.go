package connectors

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrBadConfig is matched (errors.Is) by every *ConfigError.
var ErrBadConfig = errors.New("bad config")

// ConfigError is a step config value a connector cannot use. Connectors
// return it wrapped in Permanent: trying again will not fix the config.
type ConfigError struct {
	// Field is the config key, e.g. "url" or "headers.X-Id".
	Field string
	// Msg says what is wrong, e.g. "required".
	Msg string
	// Err is the underlying parse error, if any.
	Err error
}

// Error implements error: `field "url": required`.
func (e *ConfigError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("field %q: %s: %v", e.Field, e.Msg, e.Err)
	}
	return fmt.Sprintf("field %q: %s", e.Field, e.Msg)
}

// Unwrap returns the underlying parse error.
func (e *ConfigError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrBadConfig) hold.
func (e *ConfigError) Is(target error) bool { return target == ErrBadConfig }

// The helpers below read JSON-shaped config values (string, float64, bool,
// nil, map[string]any, []any) leniently: numbers and bools are accepted
// where a string is wanted, and strings such as "true" or "42" where a
// bool or number is wanted. A missing key or null counts as absent.

// TypeName names the JSON type of a config value for error messages:
// "string", "number", "bool", "object", "list" or "null".
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64, float32, int, int64, int32, uint, uint64, uint32:
		return "number"
	case bool:
		return "bool"
	case map[string]any, map[string]string:
		return "object"
	case []any, []string:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

// Stringify turns a scalar config value into text: strings as they are,
// whole numbers without a decimal point ("42", not "42.0" or "4.2e+01"),
// other numbers in their shortest form, bools as "true"/"false", null as "".
// It reports false for objects and lists.
func Stringify(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return formatFloat(x), true
	case float32:
		return formatFloat(float64(x)), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	}
	return "", false
}

func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// ConfigString returns cfg[key] as text ("" when absent); see Stringify.
func ConfigString(cfg map[string]any, key string) (string, error) {
	s, ok := Stringify(cfg[key])
	if !ok {
		return "", &ConfigError{Field: key, Msg: "want a string, got " + TypeName(cfg[key])}
	}
	return s, nil
}

// ConfigBool returns cfg[key] as a bool, or def when absent. It accepts
// true/false and the strings "true"/"false" (any case, surrounding spaces
// ignored).
func ConfigBool(cfg map[string]any, key string, def bool) (bool, error) {
	switch x := cfg[key].(type) {
	case nil:
		return def, nil
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "":
			return def, nil
		}
	}
	return false, &ConfigError{Field: key, Msg: "want true or false, got " + TypeName(cfg[key])}
}

// ConfigNumber returns cfg[key] as a float64, ok false when absent. It
// accepts numbers and numeric strings.
func ConfigNumber(cfg map[string]any, key string) (n float64, ok bool, err error) {
	switch x := cfg[key].(type) {
	case nil:
		return 0, false, nil
	case float64:
		return x, true, nil
	case int:
		return float64(x), true, nil
	case int64:
		return float64(x), true, nil
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0, false, nil
		}
		f, perr := strconv.ParseFloat(s, 64)
		if perr == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true, nil
		}
	}
	return 0, false, &ConfigError{Field: key, Msg: "want a number, got " + TypeName(cfg[key])}
}

// ConfigDuration returns cfg[key] as a duration, or def when absent. It
// accepts Go duration strings ("30s", "1h30m") and numbers, read as
// seconds. Negative durations are refused.
func ConfigDuration(cfg map[string]any, key string, def time.Duration) (time.Duration, error) {
	var d time.Duration
	switch x := cfg[key].(type) {
	case nil:
		return def, nil
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return def, nil
		}
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, &ConfigError{Field: key, Msg: `want a duration such as "30s" or "5m"`, Err: err}
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > float64(math.MaxInt64/int64(time.Second)) {
			return 0, &ConfigError{Field: key, Msg: "duration out of range"}
		}
		d = time.Duration(x * float64(time.Second))
	default:
		return 0, &ConfigError{Field: key, Msg: `want a duration such as "30s", got ` + TypeName(cfg[key])}
	}
	if d < 0 {
		return 0, &ConfigError{Field: key, Msg: "duration must not be negative"}
	}
	return d, nil
}

// ConfigChoice returns cfg[key] as one of options, or def when absent.
// The comparison ignores case; the option's own spelling is returned.
func ConfigChoice(cfg map[string]any, key, def string, options []string) (string, error) {
	s, err := ConfigString(cfg, key)
	if err != nil {
		return "", err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	for _, o := range options {
		if strings.EqualFold(s, o) {
			return o, nil
		}
	}
	return "", &ConfigError{Field: key, Msg: fmt.Sprintf("%q is not one of %s", s, strings.Join(options, ", "))}
}

// ConfigValues returns a key-value field as a map from key to values,
// nil when absent. It accepts an object whose values are scalars (turned
// into text, see Stringify) or lists of scalars (several values), and, for
// what a UI may send, a list of {"key"|"name": ..., "value": ...} objects.
func ConfigValues(cfg map[string]any, key string) (map[string][]string, error) {
	raw := cfg[key]
	out := map[string][]string{}
	add := func(k string, v any) error {
		if list, ok := v.([]any); ok {
			for _, item := range list {
				s, ok := Stringify(item)
				if !ok {
					return &ConfigError{Field: key + "." + k, Msg: "want text, got " + TypeName(item)}
				}
				out[k] = append(out[k], s)
			}
			return nil
		}
		s, ok := Stringify(v)
		if !ok {
			return &ConfigError{Field: key + "." + k, Msg: "want text, got " + TypeName(v)}
		}
		out[k] = append(out[k], s)
		return nil
	}
	switch x := raw.(type) {
	case nil:
		return nil, nil
	case map[string]string:
		for k, v := range x {
			out[k] = append(out[k], v)
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if err := add(k, x[k]); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, item := range x {
			pair, ok := item.(map[string]any)
			if !ok {
				return nil, &ConfigError{Field: fmt.Sprintf("%s[%d]", key, i), Msg: "want an object with key and value, got " + TypeName(item)}
			}
			k, _ := Stringify(pair["key"])
			if k == "" {
				k, _ = Stringify(pair["name"])
			}
			if k == "" {
				return nil, &ConfigError{Field: fmt.Sprintf("%s[%d]", key, i), Msg: "missing key"}
			}
			if err := add(k, pair["value"]); err != nil {
				return nil, err
			}
		}
	default:
		return nil, &ConfigError{Field: key, Msg: "want an object of names and values, got " + TypeName(raw)}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ConfigRequired returns cfg[key] as text with surrounding spaces trimmed;
// absent or blank is a *ConfigError "required".
func ConfigRequired(cfg map[string]any, key string) (string, error) {
	s, err := ConfigString(cfg, key)
	if err != nil {
		return "", err
	}
	if s = strings.TrimSpace(s); s == "" {
		return "", &ConfigError{Field: key, Msg: "required"}
	}
	return s, nil
}

// ConfigTimeout returns cfg[key] as a duration (see ConfigDuration), def
// when absent; it must be above zero and at most max.
func ConfigTimeout(cfg map[string]any, key string, def, max time.Duration) (time.Duration, error) {
	d, err := ConfigDuration(cfg, key, def)
	if err != nil {
		return 0, err
	}
	if d <= 0 || d > max {
		return 0, &ConfigError{Field: key, Msg: fmt.Sprintf("%s must be above 0 and at most %s", d, max)}
	}
	return d, nil
}

// ConnectionField declares the required "connection" field of a
// connector that needs a stored connection of one of types.
func ConnectionField(label, help string, types ...string) Field {
	return Field{Name: KeyConnection, Label: label, Help: help, Type: TypeConnection, Required: true, ConnectionTypes: types}
}
