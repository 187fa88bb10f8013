package jsontext

import (
	"encoding/json"
	"strings"
	"testing"
)

var validSeeds = []string{
	``, ` `, `0`, `-0`, `01`, `-`, `1.`, `.5`, `1.5e`, `1e+`, `1E-7`, `-12.50e+3`, `2x`,
	`true`, `tru`, `truex`, `false`, `null`, `nul`, `"`, `"a`, `"a"`, `"\"`, `"\q"`, `"\u12"`, `"\u12G4"`,
	`"\u00e9\ud83d\ude00\/\b\f\n\r\t"`, "\"\x01\"", "\"\x7f\xff\xfe\"", `[]`, `[ ]`, `[,]`, `[1,]`, `[1 2]`,
	`{}`, `{ }`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{a:1}`, `{"a":1}`, `{"a":[{"b":null}]}`,
	` {"a" : [ 1 , true ] } `, `{"a":1}}`, `[[]`, `[]]`, `{"a":1} {"b":2}`, "\t[\r\n]\n", `[1]x`, `"a" "b"`,
}

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range validSeeds {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", s, got, want)
		}
	}
}

// TestValidNestingLimit: as deep as encoding/json allows and no deeper,
// and a million levels cost no stack.
func TestValidNestingLimit(t *testing.T) {
	for _, depth := range []int{MaxDepth - 1, MaxDepth, MaxDepth + 1, 1_000_000} {
		for _, pair := range []string{"[]", `{}`} {
			open, end := pair[:1], pair[1:]
			if pair == "{}" {
				open = `{"k":`
			}
			s := strings.Repeat(open, depth-1) + pair + strings.Repeat(end, depth-1)
			if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want || got != (depth <= MaxDepth) {
				t.Errorf("%s nested %d deep: Valid = %v, encoding/json %v", pair, depth, got, want)
			}
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := Valid(data), json.Valid(data); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", data, got, want)
		}
	})
}

// BenchmarkValid: a run record as the store writes it, against
// encoding/json's Valid.
func BenchmarkValid(b *testing.B) {
	record := []byte(`{"id":"run_01JD8Y3K2M4N5P6Q7R8S9T0V1W","flow_id":"bench","flow_version":1,"event_id":"evt_01JD8Y3K2M4N5P6Q7R8S9T0V1X",` +
		`"status":"succeeded","attempt":1,"created_at":"2026-12-03T17:20:00.123456789Z","started_at":"2026-12-03T17:20:00.123556789Z",` +
		`"finished_at":"2026-12-03T17:20:00.124556789Z","steps":[{"id":"shape","status":"succeeded","attempts":1,` +
		`"started_at":"2026-12-03T17:20:00.123656789Z","finished_at":"2026-12-03T17:20:00.123756789Z",` +
		`"input":{"order":"o-123","total":"42"},"output":{"order":"o-123","total":42}}]}`)
	for _, impl := range []struct {
		name  string
		valid func([]byte) bool
	}{{"jsontext", Valid}, {"encoding-json", json.Valid}} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(record)))
			for b.Loop() {
				if !impl.valid(record) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
