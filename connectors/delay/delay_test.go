package delay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/delay"
)

func TestDelay(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := &delay.Delay{Now: func() time.Time { return now }}
	tests := []struct {
		name     string
		in       connectors.Input
		resumeAt time.Time
		output   map[string]any
		wantErr  string
	}{
		{
			name:     "first call parks",
			in:       connectors.Input{Config: map[string]any{"duration": "90m"}},
			resumeAt: now.Add(90 * time.Minute),
			output:   map[string]any{"until": "2026-03-01T13:30:00Z"},
		},
		{
			name:   "resumed completes",
			in:     connectors.Input{Config: map[string]any{"duration": "90m"}, Resumed: true},
			output: map[string]any{"waited": "1h30m0s"},
		},
		{
			name:   "dry run does not wait",
			in:     connectors.Input{Config: map[string]any{"duration": "720h"}, DryRun: true},
			output: map[string]any{"dry_run": true, "until": "2026-03-31T12:00:00Z", "waited": "720h0m0s"},
		},
		{
			name:   "zero",
			in:     connectors.Input{Config: map[string]any{"duration": "0s"}},
			output: map[string]any{"waited": "0s"},
		},
		{name: "missing", in: connectors.Input{Config: map[string]any{}}, wantErr: `field "duration": required`},
		{name: "too long", in: connectors.Input{Config: map[string]any{"duration": "721h"}}, wantErr: "longer than"},
		{name: "negative", in: connectors.Input{Config: map[string]any{"duration": "-1s"}}, wantErr: "negative"},
		{name: "garbage", in: connectors.Input{Config: map[string]any{"duration": "a while"}}, wantErr: "want a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := d.Execute(context.Background(), tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "flow.delay: ") {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if retry, _ := connectors.IsRetryable(err); retry {
					t.Error("config error is retryable")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !res.ResumeAt.Equal(tt.resumeAt) {
				t.Errorf("ResumeAt = %v, want %v", res.ResumeAt, tt.resumeAt)
			}
			out := res.Output.(map[string]any)
			if len(out) != len(tt.output) {
				t.Errorf("output = %v, want %v", out, tt.output)
			}
			for k, v := range tt.output {
				if out[k] != v {
					t.Errorf("output[%s] = %v, want %v", k, out[k], v)
				}
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	c, err := connectors.Lookup(delay.ID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Execute(context.Background(), connectors.Input{Config: map[string]any{"duration": "1m"}})
	if err != nil || time.Until(res.ResumeAt) < 50*time.Second {
		t.Errorf("registered connector: %+v, %v", res, err)
	}
	if f, ok := c.Spec().Field("duration"); !ok || !f.Required || f.Type != connectors.TypeDuration {
		t.Errorf("duration field = %+v", f)
	}
}
