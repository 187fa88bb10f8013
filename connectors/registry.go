package connectors

import (
	"fmt"
	"sort"
	"sync"
)

var (
	regMu     sync.RWMutex
	registry  = map[string]Connector{}
	connTypes = map[string]ConnectionType{}
)

func init() {
	RegisterConnectionType(ConnectionType{
		ID:     "secret",
		Label:  "Secret value",
		Help:   "One secret value: a webhook signing secret or an API key.",
		Fields: []Field{{Name: "value", Label: "Value", Type: TypeSecret, Required: true}},
	})
}

// Register adds a connector. It panics on an empty or duplicate id, since
// that is a programming error found at start-up.
func Register(c Connector) {
	id := c.Spec().ID
	regMu.Lock()
	defer regMu.Unlock()
	if id == "" {
		panic("connectors: register: empty id")
	}
	if _, dup := registry[id]; dup {
		panic(fmt.Sprintf("connectors: register %q: duplicate id", id))
	}
	registry[id] = c
}

// Lookup returns the connector registered under id.
func Lookup(id string) (Connector, error) {
	regMu.RLock()
	c, ok := registry[id]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("connectors: %w: %q", ErrUnknown, id)
	}
	return c, nil
}

// Specs returns every registered connector's spec, sorted by id.
func Specs() []Spec {
	regMu.RLock()
	out := make([]Spec, 0, len(registry))
	for _, c := range registry {
		out = append(out, c.Spec())
	}
	regMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RegisterConnectionType adds a kind of connection. It panics on a duplicate.
func RegisterConnectionType(t ConnectionType) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := connTypes[t.ID]; dup {
		panic(fmt.Sprintf("connectors: register connection type %q: duplicate id", t.ID))
	}
	connTypes[t.ID] = t
}

// LookupConnectionType returns the connection type registered under id.
func LookupConnectionType(id string) (ConnectionType, error) {
	regMu.RLock()
	t, ok := connTypes[id]
	regMu.RUnlock()
	if !ok {
		return ConnectionType{}, fmt.Errorf("connectors: %w: %q", ErrUnknownConnectionType, id)
	}
	return withTest(t), nil
}

// ConnectionTypes returns every registered connection type, sorted by id.
func ConnectionTypes() []ConnectionType {
	regMu.RLock()
	out := make([]ConnectionType, 0, len(connTypes))
	for _, t := range connTypes {
		out = append(out, withTest(t))
	}
	regMu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
