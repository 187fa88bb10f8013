package engine

import (
	"sort"
	"strings"

	"github.com/switchyard/switchyard/connectors"
)

// Redacted replaces every secret value in run history.
const Redacted = "[redacted]"

// minSecretLen is the shortest value redacted by content: replacing every
// "a" in a run's history would hide everything and protect nothing.
const minSecretLen = 4

// redactor replaces known secret values wherever they appear.
type redactor struct {
	secrets []string // longest first, so a secret containing another goes whole
}

func newRedactor(values ...map[string]string) *redactor {
	seen := map[string]bool{}
	r := &redactor{}
	for _, m := range values {
		for _, v := range m {
			if len(v) >= minSecretLen && !seen[v] {
				seen[v] = true
				r.secrets = append(r.secrets, v)
			}
		}
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

func (r *redactor) add(values map[string]string) {
	for _, v := range values {
		if len(v) >= minSecretLen {
			r.secrets = append(r.secrets, v)
		}
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

func (r *redactor) string(s string) string {
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}

// value returns a redacted deep copy of a JSON-shaped value.
func (r *redactor) value(v any) any {
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
