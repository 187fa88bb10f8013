package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/switchyard/switchyard/flows"
)

// ActiveFlow is a flow's current version, compiled.
type ActiveFlow struct {
	Compiled *flows.Compiled
	Record   FlowRecord
}

// Flow returns the flow definition.
func (a *ActiveFlow) Flow() *flows.Flow { return a.Compiled.Flow }

// maxCachedVersions bounds the compiled versions kept besides the current
// ones.
const maxCachedVersions = 256

// flowCache holds every flow's current compiled version, the webhook path
// index, and older versions that queued runs still need. Programs are
// compiled once per flow version.
type flowCache struct {
	mu       sync.RWMutex
	current  map[string]*ActiveFlow // by flow id
	byPath   map[string]*ActiveFlow // enabled webhook flows by path
	versions map[versionRef]*flows.Compiled
}

type versionRef struct {
	id      string
	version int64
}

func newFlowCache() *flowCache {
	return &flowCache{current: map[string]*ActiveFlow{}, byPath: map[string]*ActiveFlow{},
		versions: map[versionRef]*flows.Compiled{}}
}

func compileRecord(rec FlowRecord) (*flows.Compiled, error) {
	f, err := flows.Decode(rec.Flow)
	if err != nil {
		return nil, err
	}
	return CompileFlow(f)
}

// set installs a flow's current version.
func (c *flowCache) set(a *ActiveFlow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.current[a.Record.ID]; old != nil {
		c.unindex(old)
	}
	c.current[a.Record.ID] = a
	c.trim()
	c.versions[versionRef{a.Record.ID, a.Record.Version}] = a.Compiled
	f := a.Compiled.Flow
	if f.Enabled && f.Trigger.Type == flows.TriggerWebhook {
		c.byPath[normalizePath(f.Trigger.Path)] = a
	}
}

func (c *flowCache) unindex(a *ActiveFlow) {
	p := normalizePath(a.Compiled.Flow.Trigger.Path)
	if c.byPath[p] == a {
		delete(c.byPath, p)
	}
}

func (c *flowCache) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.current[id]; old != nil {
		c.unindex(old)
		delete(c.current, id)
	}
}

func (c *flowCache) get(id string) *ActiveFlow {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.current[id]
}

func (c *flowCache) byWebhookPath(path string) *ActiveFlow {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byPath[normalizePath(path)]
}

// pathOwner returns the id of another flow (any state) using a webhook path.
func (c *flowCache) pathOwner(path, except string) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p := normalizePath(path)
	for id, a := range c.current {
		f := a.Compiled.Flow
		if id != except && f.Trigger.Type == flows.TriggerWebhook && normalizePath(f.Trigger.Path) == p {
			return id
		}
	}
	return ""
}

func (c *flowCache) all() []*ActiveFlow {
	c.mu.RLock()
	out := make([]*ActiveFlow, 0, len(c.current))
	for _, a := range c.current {
		out = append(out, a)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Record.ID < out[j].Record.ID })
	return out
}

// version returns a compiled flow version, loading and compiling it from
// the store the first time it is needed.
func (c *flowCache) version(ctx context.Context, s Store, id string, v int64) (*flows.Compiled, error) {
	if id == NotifyFlowID {
		a, err := notifyFlow()
		if err != nil {
			return nil, err
		}
		return a.Compiled, nil
	}
	c.mu.RLock()
	cf := c.versions[versionRef{id, v}]
	c.mu.RUnlock()
	if cf != nil {
		return cf, nil
	}
	rec, err := s.FlowVersion(ctx, id, v)
	if err != nil {
		return nil, err
	}
	cf, err = compileRecord(rec)
	if err != nil {
		return nil, fmt.Errorf("flow %q version %d no longer compiles: %w", id, v, err)
	}
	c.mu.Lock()
	c.trim()
	c.versions[versionRef{id, v}] = cf
	c.mu.Unlock()
	return cf, nil
}

// trim keeps the version cache bounded; c.mu must be held. Old versions
// are needed only by runs queued before an edit: once the cache is large,
// every one that is not current is forgotten (it recompiles on demand), so
// edits cannot grow the cache forever.
func (c *flowCache) trim() {
	if len(c.versions) < maxCachedVersions {
		return
	}
	for ref := range c.versions {
		if cur := c.current[ref.id]; cur == nil || cur.Record.Version != ref.version {
			delete(c.versions, ref)
		}
	}
}

func normalizePath(p string) string {
	return strings.Trim(p, "/")
}

// ErrFlowNotFound is returned for an unknown flow id.
var ErrFlowNotFound = errors.New("flow not found")
