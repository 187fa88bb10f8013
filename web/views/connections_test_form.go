package views

import (
	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/engine"
)

// ConnectionTested is what a Test of one connection on the Connections
// page found.
type ConnectionTested struct {
	Name    string
	OK      bool
	Message string
}

// connType finds a connection's type among the registered ones.
func connType(types []connectors.ConnectionType, c engine.ConnectionInfo) (connectors.ConnectionType, bool) {
	for _, t := range types {
		if t.ID == c.Type {
			return t, true
		}
	}
	return connectors.ConnectionType{}, false
}

// testedOf is the latest Test outcome of connection name, if any.
func testedOf(p ConnectionsProps, name string) *ConnectionTested {
	if p.Tested != nil && p.Tested.Name == name {
		return p.Tested
	}
	return nil
}
