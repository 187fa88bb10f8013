package engine

import (
	"encoding/base64"
	"errors"
	"sort"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

// Redacted replaces every secret value in run history.
const Redacted = "[redacted]"

// minSecretLen is the shortest value redacted by content: replacing every
// "a" in a run's history would hide everything and protect nothing.
const minSecretLen = 4

// redactor replaces known secret values wherever they appear in what a run
// records: step inputs, outputs and errors, the sync answer. One redactor
// serves a whole run as it executes, so a secret a step learned (a
// connection's, one a template computed, one a connector built) stays
// hidden in every later step's record too, while the later steps read the
// real values.
type redactor struct {
	secrets []string // longest first, so a secret containing another goes whole
	seen    map[string]bool
	sorted  bool
	// hits counts the replacements made, so a caller can tell whether a
	// value held a secret.
	hits int
}

func newRedactor() *redactor {
	return &redactor{seen: map[string]bool{}, sorted: true}
}

// add hides values, and their base64 forms, which a remote may echo.
func (r *redactor) add(values map[string]string) {
	for _, v := range values {
		r.addValue(v)
		if len(v) >= minSecretLen {
			r.addValue(base64.StdEncoding.EncodeToString([]byte(v)))
			r.addValue(base64.URLEncoding.EncodeToString([]byte(v)))
		}
	}
}

// addValue hides one value (long enough to be worth it).
func (r *redactor) addValue(v string) {
	if len(v) < minSecretLen || r.seen[v] {
		return
	}
	r.seen[v] = true
	r.secrets = append(r.secrets, v)
	r.sorted = false
}

func (r *redactor) string(s string) string {
	if !r.sorted {
		sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
		r.sorted = true
	}
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
			r.hits++
		}
	}
	return s
}

// strings redacts each of ss in place and returns it.
func (r *redactor) strings(ss []string) []string {
	for i, s := range ss {
		ss[i] = r.string(s)
	}
	return ss
}

// value returns a redacted deep copy of a JSON-shaped value, with every
// map[string]string turned into a map[string]any. With no secret to hide
// and nothing to turn, that copy would equal v, and v itself is returned:
// what a step records is only read after (copying every output was 7 %
// of a W1 call's CPU).
func (r *redactor) value(v any) any {
	if len(r.secrets) == 0 && !holdsStringMap(v) {
		return v
	}
	switch x := v.(type) {
	case string:
		return r.string(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.string(k)] = r.value(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.value(e)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = r.string(e)
		}
		return out
	default:
		return v
	}
}

// holdsStringMap says whether v holds a map[string]string anywhere.
func holdsStringMap(v any) bool {
	switch x := v.(type) {
	case map[string]string:
		return true
	case map[string]any:
		for _, e := range x {
			if holdsStringMap(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if holdsStringMap(e) {
				return true
			}
		}
	}
	return false
}

// stringMap returns a redacted copy of a map of strings.
func (r *redactor) stringMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[r.string(k)] = r.string(v)
	}
	return out
}

// config redacts a step's rendered config: fields the spec declares secret
// are hidden whole, the rest by content.
func (r *redactor) config(spec connectors.Spec, cfg map[string]any) map[string]any {
	if cfg == nil {
		return nil
	}
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		if f, ok := spec.Field(k); ok && f.Type == connectors.TypeSecret {
			out[k] = Redacted
			continue
		}
		out[k] = r.value(v)
	}
	return out
}

func (r *redactor) err(err error) error {
	if err == nil || len(r.secrets) == 0 {
		return err
	}
	return errors.New(r.string(err.Error()))
}
