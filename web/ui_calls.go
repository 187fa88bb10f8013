package web

import (
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/web/views"
)

// flowLinks reads the builder's "When this flow fails, run…" and
// notification fields.
func (r *flowForm) flowLinks(f *flows.Flow) {
	if id := r.trim("on_failure.flow"); id != "" {
		f.OnFailure = &flows.FailureHandler{Flow: id}
	}
	f.Notify = readNotify(r.v, "notify")
}

// readNotify reads a notification endpoint's fields under prefix; nil
// when neither URL nor secret is set. Events equal to the defaults are
// left out, as a flow written by hand would.
func readNotify(v url.Values, prefix string) *flows.Notify {
	u, secret := strings.TrimSpace(v.Get(prefix+".url")), strings.TrimSpace(v.Get(prefix+".secret"))
	if u == "" && secret == "" {
		return nil
	}
	n := &flows.Notify{URL: u, Secret: secret}
	evs := slices.Clone(v[prefix+".events"])
	slices.Sort(evs)
	def := slices.Clone(flows.DefaultNotifyEvents)
	slices.Sort(def)
	if !slices.Equal(evs, def) {
		n.Events = v[prefix+".events"]
		if n.Events == nil {
			n.Events = []string{}
		}
	}
	return n
}

// flowChoices lists the stored flows for the flow pickers: callable flows
// first, then by name.
func (s *Server) flowChoices() []views.FlowChoice {
	var out []views.FlowChoice
	for _, a := range s.eng.Flows() {
		f := a.Flow()
		out = append(out, views.FlowChoice{ID: f.ID, Name: f.Name, Callable: f.Trigger.Type == flows.TriggerCall})
	}
	slices.SortStableFunc(out, func(a, b views.FlowChoice) int {
		if a.Callable != b.Callable {
			if a.Callable {
				return -1
			}
			return 1
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out
}

// createFlowSigningSecret handles the builder's "Create a signing secret":
// a new whsec_ secret is stored as a connection the flow's notify names,
// and shown this once.
func (s *Server) createFlowSigningSecret(c *fiber.Ctx, p *views.BuilderProps) error {
	base := "notify_" + strings.ReplaceAll(p.Flow.ID, "-", "_")
	if p.Flow.ID == "" {
		base = "notify"
	}
	name, secret, err := s.eng.CreateSigningSecret(c.UserContext(), base)
	if err != nil {
		return err
	}
	if p.Flow.Notify == nil {
		p.Flow.Notify = &flows.Notify{}
	}
	p.Flow.Notify.Secret = name
	p.SigningSecret = secret
	if conns, err := s.eng.Connections(c.UserContext()); err == nil {
		p.Connections = conns
	}
	return nil
}
