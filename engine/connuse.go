package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/flows"
)

// ErrConnectionInUse: a connection flows name cannot be deleted without
// force. The error is a *ConnectionInUseError naming the flows.
var ErrConnectionInUse = errors.New("connection is used by flows")

// ConnectionInUseError names the flows that use a connection someone
// tried to delete.
type ConnectionInUseError struct {
	Name  string
	Flows []string
	// Settings: the run notifications of the settings sign with it.
	Settings bool
}

func (e *ConnectionInUseError) Error() string {
	var by []string
	if len(e.Flows) > 0 {
		by = append(by, "flows "+strings.Join(e.Flows, ", "))
	}
	if e.Settings {
		by = append(by, "the settings' run notifications")
	}
	users := strings.Join(by, " and ")
	return fmt.Sprintf("engine: delete connection %q: used by %s (delete with force to remove it anyway)", e.Name, users)
}

// Is makes errors.Is(err, ErrConnectionInUse) hold.
func (e *ConnectionInUseError) Is(target error) bool { return target == ErrConnectionInUse }

// FlowsUsing lists, sorted, the ids of the flows that name connection
// name.
func (e *Engine) FlowsUsing(name string) []string {
	return e.ConnectionUsers()[name]
}

// ConnectionUsers maps each connection name the current flows use to the
// ids of those flows, sorted.
func (e *Engine) ConnectionUsers() map[string][]string {
	out := map[string][]string{}
	for _, a := range e.flows.all() {
		for _, ref := range flows.ConnectionRefs(a.Flow()) {
			if ids := out[ref.Name]; !slices.Contains(ids, a.Flow().ID) {
				out[ref.Name] = append(ids, a.Flow().ID)
			}
		}
	}
	for _, ids := range out {
		slices.Sort(ids)
	}
	return out
}

// DeleteConnection removes a connection. While flows name it, it is kept
// and a *ConnectionInUseError lists them, unless force is set.
func (e *Engine) DeleteConnection(ctx context.Context, name string, force bool) error {
	if !force {
		// The settings' notifications sign with a secret connection as a
		// flow's do: deleting it would break every notification.
		n := e.Settings().Notify
		inSettings := n != nil && n.Secret == name
		if users := e.FlowsUsing(name); len(users) > 0 || inSettings {
			if _, err := e.store.Connection(ctx, name); err != nil {
				return err
			}
			return &ConnectionInUseError{Name: name, Flows: users, Settings: inSettings}
		}
	}
	if err := e.store.DeleteConnection(ctx, name); err != nil {
		return err
	}
	detail := ""
	if force {
		detail = "forced"
	}
	e.Audit(ctx, AuditEntry{Action: AuditConnectionDelete, Target: name, Detail: detail})
	return nil
}

// CheckConnections reports every connection f names that is not among
// known (name → connection type), or is of a type its field does not
// accept, with the field path.
func CheckConnections(f *flows.Flow, known map[string]string) []flows.FieldError {
	var out []flows.FieldError
	for _, ref := range flows.ConnectionRefs(f) {
		typ, ok := known[ref.Name]
		switch {
		case !ok:
			out = append(out, flows.FieldError{Field: ref.Field, Message: fmt.Sprintf("connection %q does not exist (add it under Connections first)", ref.Name)})
		case len(ref.Types) > 0 && !slices.Contains(ref.Types, typ):
			out = append(out, flows.FieldError{Field: ref.Field, Message: fmt.Sprintf("connection %q is of type %s; this field takes %s", ref.Name, typ, strings.Join(ref.Types, " or "))})
		}
	}
	return out
}

// connectionTypes maps every stored connection's name to its type.
func (e *Engine) connectionTypes(ctx context.Context) (map[string]string, error) {
	return ConnectionTypesOf(ctx, e.store)
}

// ConnectionTypesOf maps every connection in s to its type, for
// CheckConnections.
func ConnectionTypesOf(ctx context.Context, s interface {
	Connections(context.Context) ([]ConnectionRecord, error)
}) (map[string]string, error) {
	recs, err := s.Connections(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(recs))
	for _, r := range recs {
		out[r.Name] = r.Type
	}
	return out, nil
}
