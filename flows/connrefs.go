package flows

import (
	"fmt"

	"github.com/switchyard/switchyard/connectors"
)

// ConnectionRef is one place where a flow names a stored connection.
type ConnectionRef struct {
	// Field is the field path, such as "steps[1].with.connection" or
	// "trigger.verify.secret".
	Field string
	// Name is the connection named there.
	Name string
	// Types are the connection types the field accepts (empty: any).
	Types []string
}

// ConnectionRefs lists the connections a flow names literally: in a step's
// connection fields (at any depth), a poll trigger's request and a
// webhook's verify secrets. A value computed by a template ({{ }}) is only
// known when the step runs and is not listed.
func ConnectionRefs(f *Flow) []ConnectionRef {
	var out []ConnectionRef
	if vf := f.Trigger.Verify; vf != nil && vf.Scheme != VerifyNone {
		secret := []string{"secret"}
		if vf.Secret != "" {
			out = append(out, ConnectionRef{Field: "trigger.verify.secret", Name: vf.Secret, Types: secret})
		}
		for i, name := range vf.Secrets {
			if name != "" {
				out = append(out, ConnectionRef{Field: fmt.Sprintf("trigger.verify.secrets[%d]", i), Name: name, Types: secret})
			}
		}
	}
	if n := f.Notify; n != nil && n.Secret != "" {
		out = append(out, ConnectionRef{Field: "notify.secret", Name: n.Secret, Types: []string{"secret"}})
	}
	if r := f.Trigger.Request; r != nil && r.Connection != "" && !isTemplate(r.Connection) {
		out = append(out, ConnectionRef{Field: "trigger.request.connection", Name: r.Connection})
	}
	return stepConnectionRefs(out, "steps", f.Steps)
}

func stepConnectionRefs(out []ConnectionRef, prefix string, steps []Step) []ConnectionRef {
	for i := range steps {
		s := &steps[i]
		p := fmt.Sprintf("%s[%d]", prefix, i)
		for j, c := range s.Switch {
			out = stepConnectionRefs(out, fmt.Sprintf("%s.switch[%d].steps", p, j), c.Steps)
		}
		out = stepConnectionRefs(out, p+".steps", s.Steps)
		if s.Use == "" || len(s.With) == 0 {
			continue
		}
		conn, err := connectors.Lookup(s.Use)
		if err != nil {
			continue // the validator reports the unknown connector
		}
		spec := conn.Spec()
		for _, k := range sortedKeys(s.With) {
			fd, ok := spec.Field(k)
			if !ok || fd.Type != connectors.TypeConnection {
				continue
			}
			if name, ok := s.With[k].(string); ok && name != "" && !isTemplate(name) {
				out = append(out, ConnectionRef{Field: keyPath(p+".with", k), Name: name, Types: fd.ConnectionTypes})
			}
		}
	}
	return out
}
