package views

import (
	"testing"
	"time"
)

func TestSplitAmount(t *testing.T) {
	for _, c := range []struct {
		d            time.Duration
		amount, unit string
		ok           bool
	}{
		{1500 * time.Millisecond, "1500", "ms", true},
		{90 * time.Second, "90", "s", true},
		{90 * time.Minute, "90", "m", true},
		{72 * time.Hour, "3", "d", true},
		{25 * time.Hour, "25", "h", true},
		{time.Microsecond, "", "", false},
		{0, "", "", false},
		{-time.Second, "", "", false},
	} {
		a, u, ok := SplitAmount(int64(c.d), DurationUnits)
		if a != c.amount || u != c.unit || ok != c.ok {
			t.Errorf("SplitAmount(%v) = %q %q %v, want %q %q %v", c.d, a, u, ok, c.amount, c.unit, c.ok)
		}
	}
	for d, want := range map[time.Duration]string{48 * time.Hour: "48h", 90 * time.Minute: "90m", 500 * time.Millisecond: "500ms", 1500 * time.Microsecond: "1.5ms"} {
		if got := DurationText(d); got != want {
			t.Errorf("DurationText(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(DurationText(d)); err != nil || back != d {
			t.Errorf("DurationText(%v) does not parse back: %v %v", d, back, err)
		}
	}
	for n, want := range map[int64]string{1 << 20: "1 mb", 3 << 10: "3 kb", 1500: "1500 b", 64 << 20: "64 mb"} {
		if a, u, ok := SplitAmount(n, SizeUnits); !ok || a+" "+u != want {
			t.Errorf("SplitAmount(%d bytes) = %q %q %v, want %q", n, a, u, ok, want)
		}
	}
}
