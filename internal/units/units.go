// Package units reads and writes sizes in bytes as people write them
// (2GiB, 128MiB): the command line's flags and the UI share it.
package units

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSize is returned for a size ParseBytes cannot read.
var ErrSize = errors.New("want a size such as 2GiB, 500MiB or 1048576")

// suffixes are the units ParseBytes reads, longest first; KB, MB, GB and
// TB are taken as the same powers of two as KiB … TiB.
var suffixes = []struct {
	suffix string
	mult   int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}

// ParseBytes reads 1048576, 512KiB, 1.5GiB, 2 GB.
func ParseBytes(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range suffixes {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || n*float64(mult) > 1<<62 {
		return 0, ErrSize
	}
	return int64(n * float64(mult)), nil
}

// FormatBytes writes n in the largest binary unit that keeps it at least
// 1, with up to two decimals: 0 B, 512 B, 1.5KiB, 128MiB.
func FormatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	s := strings.TrimRight(fmt.Sprintf("%.2f", f), "0")
	return strings.TrimSuffix(s, ".") + units[i]
}
