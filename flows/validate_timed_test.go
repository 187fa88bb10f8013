package flows

import (
	"reflect"
	"testing"
)

func scheduleTrigger(f *Flow) {
	f.Trigger = Trigger{Type: TriggerSchedule, Cron: "0 30 2 * * *", Timezone: "Europe/Berlin"}
}

func pollTriggerOf(f *Flow) {
	f.Trigger = Trigger{Type: TriggerPoll, Cron: "@every 5m", Request: &PollRequest{URL: "https://example.com/items?since={{ cursor }}"},
		Items: "response.body.items", Key: "item.id", Cursor: "response.body.next ?? cursor"}
}

func TestCompileTimedErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(f *Flow)
		want   []wantErr
	}{
		{"misfire unknown", func(f *Flow) { scheduleTrigger(f); f.Trigger.Misfire = "later" }, []wantErr{{"trigger.misfire", `unknown policy "later" (use skip or catch_up)`}}},
		{"catch_up_limit without catch_up", func(f *Flow) { scheduleTrigger(f); f.Trigger.CatchUpLimit = 5 }, []wantErr{{"trigger.catch_up_limit", `only allowed with misfire "catch_up"`}}},
		{"catch_up_limit with skip", func(f *Flow) { scheduleTrigger(f); f.Trigger.Misfire, f.Trigger.CatchUpLimit = MisfireSkip, 5 }, []wantErr{{"trigger.catch_up_limit", "only allowed with"}}},
		{"catch_up_limit too big", func(f *Flow) { scheduleTrigger(f); f.Trigger.Misfire, f.Trigger.CatchUpLimit = MisfireCatchUp, 1001 }, []wantErr{{"trigger.catch_up_limit", "between 1 and 1000, got 1001"}}},
		{"catch_up_limit negative", func(f *Flow) { scheduleTrigger(f); f.Trigger.Misfire, f.Trigger.CatchUpLimit = MisfireCatchUp, -1 }, []wantErr{{"trigger.catch_up_limit", "between 1 and 1000, got -1"}}},
		{"misfire on poll", func(f *Flow) { pollTriggerOf(f); f.Trigger.Misfire = MisfireSkip }, []wantErr{{"trigger.misfire", "not allowed for poll triggers"}}},
		{"backfill negative", func(f *Flow) { pollTriggerOf(f); f.Trigger.Backfill = -1 }, []wantErr{{"trigger.backfill", "between 0 and 1000, got -1"}}},
		{"backfill too big", func(f *Flow) { pollTriggerOf(f); f.Trigger.Backfill = 1001 }, []wantErr{{"trigger.backfill", "between 0 and 1000"}}},
		{"flood_limit negative", func(f *Flow) { pollTriggerOf(f); f.Trigger.FloodLimit = -3 }, []wantErr{{"trigger.flood_limit", "at least 1, got -3"}}},
		{"seen_limit too big", func(f *Flow) { pollTriggerOf(f); f.Trigger.SeenLimit = 1_000_001 }, []wantErr{{"trigger.seen_limit", "between 1 and 1000000"}}},
		{"seen_limit negative", func(f *Flow) { pollTriggerOf(f); f.Trigger.SeenLimit = -1 }, []wantErr{{"trigger.seen_limit", "between 1 and 1000000"}}},
		{"cursor does not compile", func(f *Flow) { pollTriggerOf(f); f.Trigger.Cursor = "response.body.next ??" }, []wantErr{{"trigger.cursor", "(1:"}}},
		{"cursor unknown name", func(f *Flow) { pollTriggerOf(f); f.Trigger.Cursor = "item.id" }, []wantErr{{"trigger.cursor", "unknown name item"}}},
		{"cursor reads secrets", func(f *Flow) { pollTriggerOf(f); f.Trigger.Cursor = "secrets.x.value" }, []wantErr{{"trigger.cursor", "secrets are only available"}}},
		{"cursor reads a step", func(f *Flow) { pollTriggerOf(f); f.Trigger.Cursor = "steps.first.output" }, []wantErr{{"trigger.cursor", `step "first" has not run yet here`}}},
		{"cursor on schedule", func(f *Flow) { scheduleTrigger(f); f.Trigger.Cursor = "cursor" }, []wantErr{{"trigger.cursor", "not allowed for schedule triggers"}}},
		{"placeholder without cursor", func(f *Flow) { pollTriggerOf(f); f.Trigger.Cursor = "" }, []wantErr{{"trigger.cursor", "required: the request uses {{ cursor }}"}}},
		{"other template in url", func(f *Flow) {
			pollTriggerOf(f)
			f.Trigger.Request.URL = "https://example.com/{{ trigger.body.x }}"
		}, []wantErr{{"trigger.request.url", "only {{ cursor }} may be used here"}}},
		{"other template in header", func(f *Flow) {
			pollTriggerOf(f)
			f.Trigger.Request.Headers = map[string]string{"X-Page": "{{ page }}"}
		}, []wantErr{{"trigger.request.headers.X-Page", "only {{ cursor }} may be used here"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFlow(t)
			tt.mutate(f)
			c, err := Compile(f)
			if err == nil {
				t.Fatalf("Compile succeeded: %+v", c)
			}
			checkDetails(t, err, tt.want, true)
		})
	}
}

func TestCompileTimedAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(f *Flow)
	}{
		{"schedule defaults", scheduleTrigger},
		{"skip", func(f *Flow) { scheduleTrigger(f); f.Trigger.Misfire = MisfireSkip }},
		{"catch_up bounds", func(f *Flow) { scheduleTrigger(f); f.Trigger.Misfire, f.Trigger.CatchUpLimit = MisfireCatchUp, 1000 }},
		{"catch_up default limit", func(f *Flow) { scheduleTrigger(f); f.Trigger.Misfire = MisfireCatchUp }},
		{"poll with every limit", func(f *Flow) {
			pollTriggerOf(f)
			f.Trigger.Backfill, f.Trigger.FloodLimit, f.Trigger.SeenLimit = 1000, 1, 1_000_000
		}},
		{"cursor placeholder in path and header", func(f *Flow) {
			pollTriggerOf(f)
			f.Trigger.Request.URL = "https://example.com/{{cursor}}/items"
			f.Trigger.Request.Headers = map[string]string{"If-None-Match": "{{ cursor }}"}
		}},
		{"cursor arithmetic on any value", func(f *Flow) { pollTriggerOf(f); f.Trigger.Cursor = "(cursor ?? 0) + len(response.body.items)" }},
		{"cursor without placeholder", func(f *Flow) {
			pollTriggerOf(f)
			f.Trigger.Request.URL = "https://example.com/items"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFlow(t)
			tt.mutate(f)
			if _, err := Compile(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCursorEval: the cursor expression sees response and the previous
// cursor, which is nil before the first poll.
func TestCursorEval(t *testing.T) {
	f := baseFlow(t)
	pollTriggerOf(f)
	f.Trigger.Cursor = "max(cursor ?? 0, len(response.body.items))"
	c, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	env := NewEnv(EnvInput{Flow: f}).With(VarResponse, map[string]any{"body": map[string]any{"items": []any{1, 2}}})
	for _, tc := range []struct{ prev, want any }{{nil, 2}, {5, 5}} {
		got, err := c.Cursor.Eval(env.With(VarCursor, tc.prev))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("cursor after %v = %v (%v), want %v", tc.prev, got, err, tc.want)
		}
	}
}
