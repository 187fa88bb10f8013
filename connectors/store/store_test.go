package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/store"
)

// memKV records what the steps ask of the store. (Connectors may not
// import the engine; the engine's tests run these steps over the bbolt
// store, engine/kv_test.go.)
type memKV struct {
	vals  map[string]string
	calls []string
	fail  error
}

func (m *memKV) Get(_ context.Context, ns, key string) ([]byte, bool, error) {
	m.calls = append(m.calls, "get "+ns+"/"+key)
	if m.fail != nil {
		return nil, false, m.fail
	}
	v, ok := m.vals[ns+"/"+key]
	return []byte(v), ok, nil
}

func (m *memKV) Set(_ context.Context, ns, key string, value []byte, ttl time.Duration, once string) error {
	m.calls = append(m.calls, "set "+ns+"/"+key+" "+string(value)+" "+ttl.String()+" "+once)
	if m.fail != nil {
		return m.fail
	}
	m.vals[ns+"/"+key] = string(value)
	return nil
}

func (m *memKV) Delete(_ context.Context, ns, key, once string) (bool, error) {
	m.calls = append(m.calls, "delete "+ns+"/"+key+" "+once)
	_, ok := m.vals[ns+"/"+key]
	delete(m.vals, ns+"/"+key)
	return ok, m.fail
}

func (m *memKV) Increment(_ context.Context, ns, key string, by float64, once string) ([]byte, error) {
	m.calls = append(m.calls, "increment "+ns+"/"+key+" "+once)
	if m.fail != nil {
		return nil, m.fail
	}
	m.vals[ns+"/"+key] = "7"
	return []byte("7"), nil
}

func TestSteps(t *testing.T) {
	tests := []struct {
		name    string
		conn    connectors.Connector
		cfg     map[string]any
		dry     bool
		stored  map[string]string
		want    string // the output, as JSON
		call    string // the store call, with the write's name
		wantErr string
	}{
		{name: "set text", conn: &store.Set{}, cfg: map[string]any{"key": "conv:1", "value": "hi <there>"},
			want: `{"key":"conv:1","value":"hi <there>"}`, call: `set /conv:1 "hi <there>" 0s run_1:s#2`},
		{name: "set object with ttl in a namespace", conn: &store.Set{}, cfg: map[string]any{"key": "k", "namespace": "shared", "ttl": "24h", "value": map[string]any{"n": 1.5, "l": []any{true}}},
			want: `{"key":"k","ttl":"24h0m0s","value":{"l":[true],"n":1.5}}`, call: `set shared/k {"l":[true],"n":1.5} 24h0m0s run_1:s#2`},
		{name: "set dry", conn: &store.Set{}, cfg: map[string]any{"key": "k", "value": 1.0}, dry: true,
			want: `{"dry_run":true,"key":"k","value":1}`},
		{name: "set without value", conn: &store.Set{}, cfg: map[string]any{"key": "k"}, wantErr: `store.set: field "value": required`},
		{name: "set bad ttl", conn: &store.Set{}, cfg: map[string]any{"key": "k", "value": 1.0, "ttl": "soon"}, wantErr: `store.set: field "ttl": want a duration`},
		{name: "key required", conn: &store.Get{}, cfg: map[string]any{}, wantErr: `store.get: field "key": required`},
		{name: "key not text", conn: &store.Get{}, cfg: map[string]any{"key": map[string]any{}}, wantErr: `store.get: field "key": want a string`},
		{name: "get found", conn: &store.Get{}, cfg: map[string]any{"key": "k"}, stored: map[string]string{"/k": `{"a":[1,2]}`},
			want: `{"found":true,"value":{"a":[1,2]}}`, call: "get /k"},
		{name: "get default", conn: &store.Get{}, cfg: map[string]any{"key": "k", "default": 0.0},
			want: `{"found":false,"value":0}`, call: "get /k"},
		{name: "get no default", conn: &store.Get{}, cfg: map[string]any{"key": "k", "namespace": "other"},
			want: `{"found":false,"value":null}`, call: "get other/k"},
		{name: "get dry reads", conn: &store.Get{}, cfg: map[string]any{"key": "k"}, dry: true, stored: map[string]string{"/k": `"v"`},
			want: `{"found":true,"value":"v"}`, call: "get /k"},
		{name: "delete", conn: &store.Delete{}, cfg: map[string]any{"key": "k"}, stored: map[string]string{"/k": `1`},
			want: `{"deleted":true,"key":"k"}`, call: "delete /k run_1:s#2"},
		{name: "delete nothing", conn: &store.Delete{}, cfg: map[string]any{"key": "k"},
			want: `{"deleted":false,"key":"k"}`, call: "delete /k run_1:s#2"},
		{name: "delete dry", conn: &store.Delete{}, cfg: map[string]any{"key": "k"}, dry: true, stored: map[string]string{"/k": `1`},
			want: `{"deleted":true,"dry_run":true,"key":"k"}`, call: "get /k"},
		{name: "increment", conn: &store.Increment{}, cfg: map[string]any{"key": "n"},
			want: `{"value":7}`, call: "increment /n run_1:s#2"},
		{name: "increment dry", conn: &store.Increment{}, cfg: map[string]any{"key": "n", "by": "2.5"}, dry: true, stored: map[string]string{"/n": `4`},
			want: `{"dry_run":true,"value":6.5}`, call: "get /n"},
		{name: "increment bad by", conn: &store.Increment{}, cfg: map[string]any{"key": "n", "by": "lots"}, wantErr: `store.increment: field "by": want a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := &memKV{vals: map[string]string{}}
			for k, v := range tt.stored {
				kv.vals[k] = v
			}
			res, err := tt.conn.Execute(context.Background(), connectors.Input{Config: tt.cfg, DryRun: tt.dry, KV: kv,
				RunID: "run_1", StepID: "s", IdempotencyKey: "run_1:s", Attempt: 2})
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
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
			out, err := connectors.EncodeJSON(res.Output)
			if err != nil || string(out) != tt.want {
				t.Errorf("output = %s (%v), want %s", out, err, tt.want)
			}
			calls := strings.Join(kv.calls, "; ")
			if calls != tt.call {
				t.Errorf("store calls = %q, want %q", calls, tt.call)
			}
		})
	}
}

// A refusal from the store (a limit, a value that is not a number) fails
// the step for good; the store being unavailable is tried again. Without
// a store the steps say where they can run.
func TestStoreErrors(t *testing.T) {
	in := connectors.Input{Config: map[string]any{"key": "k", "value": 1.0}, IdempotencyKey: "r:s", Attempt: 1}
	in.KV = &memKV{vals: map[string]string{}, fail: &connectors.ConfigError{Field: "value", Msg: "larger than 64 KiB"}}
	_, err := (&store.Set{}).Execute(context.Background(), in)
	if retry, _ := connectors.IsRetryable(err); err == nil || retry || err.Error() != `store.set: field "value": larger than 64 KiB` {
		t.Errorf("refusal: %v (retryable %v)", err, retry)
	}
	in.KV = &memKV{vals: map[string]string{}, fail: errors.New("store unavailable")}
	_, err = (&store.Increment{}).Execute(context.Background(), in)
	if retry, _ := connectors.IsRetryable(err); !retry {
		t.Errorf("unavailable store: %v not retryable", err)
	}
	in.KV = nil
	_, err = (&store.Get{}).Execute(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "no data store here") {
		t.Errorf("without a store: %v", err)
	}
}
