package main

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestPlotIsWellFormedSVG(t *testing.T) {
	s, err := readSamples(strings.NewReader("events\trss_mib\tdisk_mib\n0\t20.5\t0.1\n50000\t61\t70\n100000\t64.2\t139\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 3 || s[2].events != 100000 || s[1].rss != 61 {
		t.Fatalf("samples = %+v", s)
	}
	var b strings.Builder
	if err := plot(&b, "a <b> & c", s); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(b.String()))
	polylines := 0
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 2 {
		t.Fatalf("want 2 curves, got %d in\n%s", polylines, b.String())
	}
	if !strings.Contains(b.String(), "a &lt;b&gt; &amp; c") {
		t.Fatal("title not escaped")
	}
}

func TestReadSamplesRefusesBadLines(t *testing.T) {
	for _, in := range []string{"h\n1\t2\n", "h\nx\t1\t2\n", "h\n"} {
		if _, err := readSamples(strings.NewReader(in)); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}
