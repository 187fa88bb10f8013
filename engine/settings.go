package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/switchyard/switchyard/flows"
)

// Settings are the instance-wide defaults flows fall back on: the error
// flow started when a run of a flow without on_failure fails, and the
// endpoint run outcomes of flows without notify go to.
type Settings struct {
	OnFailure *flows.FailureHandler `json:"on_failure,omitempty"`
	Notify    *flows.Notify         `json:"notify,omitempty"`
}

// settingsMeta is the MetaStore key the settings are kept under.
const settingsMeta = "settings"

// settingsBox holds the current settings for lock-free reads.
type settingsBox struct{ p atomic.Pointer[Settings] }

// Settings returns the current settings.
func (e *Engine) Settings() Settings {
	if s := e.settings.p.Load(); s != nil {
		return *s
	}
	return Settings{}
}

func (e *Engine) loadSettings(ctx context.Context) error {
	raw, err := e.store.Meta(ctx, settingsMeta)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("engine: load settings: %w", err)
	}
	var s Settings
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("engine: load settings: %w", err)
	}
	e.settings.p.Store(&s)
	return nil
}

// SaveSettings checks and stores the settings. Problems come back as a
// *flows.ValidationError with field paths ("on_failure.flow").
func (e *Engine) SaveSettings(ctx context.Context, s Settings) error {
	ve := &flows.ValidationError{}
	add := func(field, msg string) { ve.Details = append(ve.Details, flows.FieldError{Field: field, Message: msg}) }
	if h := s.OnFailure; h != nil {
		switch {
		case h.Flow == "":
			s.OnFailure = nil
		case e.flows.get(h.Flow) == nil:
			add("on_failure.flow", fmt.Sprintf("unknown flow %q", h.Flow))
		}
	}
	if n := s.Notify; n != nil {
		if n.URL == "" && n.Secret == "" {
			s.Notify = nil
		} else {
			flows.CheckNotify("notify", n, add)
			known, err := e.connectionTypes(ctx)
			if err != nil {
				return err
			}
			// The same check as a flow's notify gets.
			ve.Details = append(ve.Details, CheckConnections(&flows.Flow{Notify: n}, known)...)
		}
	}
	if len(ve.Details) > 0 {
		return ve
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("engine: save settings: %w", err)
	}
	if err := e.store.PutMeta(ctx, settingsMeta, raw); err != nil {
		return fmt.Errorf("engine: save settings: %w", err)
	}
	e.settings.p.Store(&s)
	e.log.InfoContext(ctx, "settings saved")
	return nil
}
