// Command soakplot draws the samples of `make bench-soak` (bench/soak.sh) as
// an SVG chart: RSS and data-dir size in MiB against accepted events. It
// reads the TSV soak.sh writes (a header line, then events, rss_mib,
// disk_mib) on stdin and writes the SVG on stdout. It is a bench tool, not
// part of the product, and needs nothing beyond the standard library.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// sample is one line of the soak TSV.
type sample struct {
	events    float64
	rss, disk float64
}

func main() {
	title := flag.String("title", "Switchyard soak", "chart title")
	flag.Parse()
	samples, err := readSamples(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soakplot:", err)
		os.Exit(1)
	}
	if err := plot(os.Stdout, *title, samples); err != nil {
		fmt.Fprintln(os.Stderr, "soakplot:", err)
		os.Exit(1)
	}
}

// readSamples parses the TSV, skipping its header line.
func readSamples(r io.Reader) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if line == 1 || len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want 3 columns, got %d", line, len(f))
		}
		var v [3]float64
		for i := range f {
			x, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			v[i] = x
		}
		out = append(out, sample{events: v[0], rss: v[1], disk: v[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no samples")
	}
	return out, nil
}

// Chart geometry, in SVG user units.
const (
	width, height          = 760.0, 420.0
	left, right, top, base = 70.0, 70.0, 50.0, 60.0
)

// plot writes the chart: events on x, RSS on the left axis, disk on the
// right axis, each with its own scale so both curves use the height.
func plot(w io.Writer, title string, s []sample) error {
	maxX, maxRSS, maxDisk := 1.0, 1.0, 1.0
	for _, p := range s {
		maxX = math.Max(maxX, p.events)
		maxRSS = math.Max(maxRSS, p.rss)
		maxDisk = math.Max(maxDisk, p.disk)
	}
	maxRSS, maxDisk = niceCeil(maxRSS), niceCeil(maxDisk)
	plotW, plotH := width-left-right, height-top-base
	x := func(v float64) float64 { return left + v/maxX*plotW }
	y := func(v, max float64) float64 { return top + plotH - v/max*plotH }

	b := &strings.Builder{}
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(b, `<text x="%.0f" y="24" font-size="15">%s</text>`+"\n", left, escape(title))
	// Grid and axis labels: five steps on each axis.
	for i := 0; i <= 5; i++ {
		f := float64(i) / 5
		gy := top + plotH - f*plotH
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, gy, left+plotW, gy)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#1f5fbf">%.0f</text>`+"\n", left-6, gy+4, f*maxRSS)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="#b35900">%.0f</text>`+"\n", left+plotW+6, gy+4, f*maxDisk)
		gx := left + f*plotW
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", gx, top+plotH+18, thousands(f*maxX))
	}
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", left, top, plotW, plotH)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">events accepted</text>`+"\n", left+plotW/2, height-18)
	fmt.Fprintf(b, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle" fill="#1f5fbf">RSS (MiB)</text>`+"\n", top+plotH/2)
	fmt.Fprintf(b, `<text transform="translate(%.1f %.1f) rotate(90)" text-anchor="middle" fill="#b35900">data dir (MiB)</text>`+"\n", width-18, top+plotH/2)
	line := func(color string, v func(sample) float64, max float64) {
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="`, color)
		for i, p := range s {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(b, "%.1f,%.1f", x(p.events), y(v(p), max))
		}
		b.WriteString(`"/>` + "\n")
	}
	line("#1f5fbf", func(p sample) float64 { return p.rss }, maxRSS)
	line("#b35900", func(p sample) float64 { return p.disk }, maxDisk)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, so axis labels
// are round numbers.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// thousands formats an event count as 250k or 1M.
func thousands(v float64) string {
	switch {
	case v >= 1e6:
		m := strings.TrimRight(strings.TrimRight(strconv.FormatFloat(v/1e6, 'f', 2, 64), "0"), ".")
		return m + "M"
	case v >= 1e3:
		return strconv.FormatFloat(math.Round(v/1e3), 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// escape makes the title safe as SVG text.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
