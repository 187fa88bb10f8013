package respond_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/connectors/respond"
)

func TestRespond(t *testing.T) {
	tests := []struct {
		name    string
		cfg     map[string]any
		want    connectors.Response
		wantErr string
	}{
		{name: "defaults", cfg: map[string]any{}, want: connectors.Response{Status: 200}},
		{
			name: "full",
			cfg:  map[string]any{"status": float64(201), "headers": map[string]any{"x-id": float64(7), "Content-Type": "text/plain"}, "body": "created"},
			want: connectors.Response{Status: 201, Headers: map[string]string{"X-Id": "7", "Content-Type": "text/plain"}, Body: "created"},
		},
		{name: "status as text", cfg: map[string]any{"status": "404", "body": map[string]any{"error": "x"}}, want: connectors.Response{Status: 404, Body: map[string]any{"error": "x"}}},
		{name: "same header twice", cfg: map[string]any{"headers": map[string]any{"x-a": "1", "X-A": "2"}}, want: connectors.Response{Status: 200, Headers: map[string]string{"X-A": "2, 1"}}},
		{name: "status low", cfg: map[string]any{"status": float64(99)}, wantErr: `field "status"`},
		{name: "status high", cfg: map[string]any{"status": float64(600)}, wantErr: `field "status"`},
		{name: "status fraction", cfg: map[string]any{"status": 200.5}, wantErr: `field "status"`},
		{name: "status text", cfg: map[string]any{"status": "ok"}, wantErr: `field "status"`},
		{name: "header injection", cfg: map[string]any{"headers": map[string]any{"X-A": "1\r\nSet-Cookie: x"}}, wantErr: "line break"},
		{name: "header name", cfg: map[string]any{"headers": map[string]any{"X A": "1"}}, wantErr: "not a valid header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := (&respond.Respond{}).Execute(context.Background(), connectors.Input{Config: tt.cfg})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "webhook.respond: ") {
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
			if res.Respond == nil || !reflect.DeepEqual(*res.Respond, tt.want) {
				t.Fatalf("Respond = %+v, want %+v", res.Respond, tt.want)
			}
			out := res.Output.(map[string]any)
			if out["status"] != tt.want.Status || !reflect.DeepEqual(out["body"], tt.want.Body) || len(out["headers"].(map[string]any)) != len(tt.want.Headers) {
				t.Errorf("output = %v", out)
			}
		})
	}
}

func TestSpec(t *testing.T) {
	c, err := connectors.Lookup(respond.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Spec()
	if s.SideEffects {
		t.Error("webhook.respond declares side effects")
	}
	for name, typ := range map[string]connectors.FieldType{"status": connectors.TypeNumber, "headers": connectors.TypeKeyValue, "body": connectors.TypeJSON} {
		if f, ok := s.Field(name); !ok || f.Type != typ {
			t.Errorf("field %s = %+v", name, f)
		}
	}
}
