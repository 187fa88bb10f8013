package engine

import (
	"encoding/json"
	"mime"
	"net/url"
	"strings"

	"github.com/switchyard/switchyard/flows"
)

// IsJSONType reports whether a Content-Type names JSON (application/json or
// any +json type).
func IsJSONType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// ParseBody turns a stored body into what expressions see as trigger.body:
// JSON is decoded, a form becomes an object (repeated keys become lists),
// anything else is text. An empty body is nil.
func ParseBody(contentType string, body []byte) (any, error) {
	if len(body) == 0 {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case IsJSONType(contentType):
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, err
		}
		return v, nil
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(vals))
		for k, vs := range vals {
			if len(vs) == 1 {
				out[k] = vs[0]
				continue
			}
			list := make([]any, len(vs))
			for i, v := range vs {
				list[i] = v
			}
			out[k] = list
		}
		return out, nil
	default:
		return string(body), nil
	}
}

// triggerData is the `trigger` an event shows to expressions.
func triggerData(ev *Event) (flows.TriggerData, error) {
	body, err := ParseBody(ev.ContentType, ev.Body)
	if err != nil {
		return flows.TriggerData{}, err
	}
	return flows.TriggerData{
		Body:       body,
		Headers:    ev.Headers,
		Query:      ev.Query,
		Method:     ev.Method,
		Path:       ev.Path,
		ReceivedAt: ev.ReceivedAt,
	}, nil
}
