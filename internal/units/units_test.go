package units

import "testing"

func TestBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{{"0", 0}, {"1048576", 1 << 20}, {"2GiB", 2 << 30}, {"2 GB", 2 << 30}, {"1.5KiB", 1536}, {"128MiB", 128 << 20}, {"7B", 7}} {
		got, err := ParseBytes(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "abc", "-1MiB", "1XB", "1e30GiB"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) took it", bad)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 512: "512 B", 1536: "1.5KiB", 128 << 20: "128MiB", 10 << 30: "10GiB", 1<<20 + 1<<10*5: "1MiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
