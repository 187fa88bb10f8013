package web

import (
	"context"
	"regexp"
	"strconv"
	"strings"
)

// connIDRE is what a connection id looks like (engine checks the same).
var connIDRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

// connectionName turns what a user typed as a connection's name into its
// id. An id (crm_key) is kept as typed: saving under an existing id
// replaces that connection, as the Connections page says. A label
// ("HubSpot main") becomes hubspot_main, the id connections.js derives
// in the builder, with _2, _3 … when that id is taken, so a label never
// replaces a connection. Empty stays empty (the engine says it is
// required).
func (s *Server) connectionName(ctx context.Context, typed string) (string, error) {
	if typed == "" || connIDRE.MatchString(typed) {
		return typed, nil
	}
	base := connSlug(typed)
	if base == "" {
		return typed, nil // nothing usable: the engine explains the rule
	}
	conns, err := s.eng.Connections(ctx)
	if err != nil {
		return "", err
	}
	taken := map[string]bool{}
	for _, c := range conns {
		taken[c.Name] = true
	}
	name := base
	for n := 2; taken[name]; n++ {
		name = base + "_" + strconv.Itoa(n)
	}
	return name, nil
}

// connSlug is slugID with _ between the words ("HubSpot main (EU)" →
// "hubspot_main_eu"), as connections.js derives it: an id expressions can
// write as secrets.hubspot_main_eu. A leading digit gets "c_".
func connSlug(label string) string {
	s := strings.ReplaceAll(slugID(label), "-", "_")
	if len(s) > 56 {
		s = strings.TrimRight(s[:56], "_")
	}
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "c_" + s
	}
	return s
}
