package diagram

import (
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func node(title, detail string) Node {
	return Node{Title: title, Detail: detail, Href: "#" + strings.ToLower(title)}
}

// cases are the shapes a flow takes; each has a golden SVG.
func cases() map[string]func() *Picture {
	trigger := Node{Title: "When a webhook arrives", Detail: "/hooks/chatbot/lead", Href: "#trigger"}
	return map[string]func() *Picture{
		"empty": func() *Picture {
			return Layout("No steps", trigger, nil, false)
		},
		"linear": func() *Picture {
			return Layout("Lead to CRM", trigger, []Node{
				node("HubSpot: create or update a contact", ""),
				node("Tell sales", "Slack: post a message"),
			}, false)
		},
		"switch": func() *Picture {
			return Layout("Orders router", trigger, []Node{
				{Title: "Choose a branch", Detail: "3 branches", Href: "#steps-0", Branches: []Branch{
					{Label: "Branch 1", Hint: "trigger.body.total >= 100", Steps: []Node{node("Big order", "HTTP request"), node("Tell the team", "Slack: post a message")}},
					{Label: "Branch 2", Hint: "trigger.body.country != 'DE'", Steps: []Node{node("Export", "HTTP request")}},
					{Label: "Otherwise"},
				}},
				node("Answer", "Respond to webhook"),
			}, false)
		},
		"nested": func() *Picture {
			return Layout("Nested", trigger, []Node{
				{Title: "Choose a branch", Href: "#steps-0", Branches: []Branch{
					{Label: "Branch 1", Steps: []Node{
						{Title: "Choose again", Branches: []Branch{
							{Label: "Branch 1", Steps: []Node{node("A", "")}},
							{Label: "No match"},
						}},
					}},
					{Label: "Otherwise", Steps: []Node{node("B", "")}},
				}},
			}, false)
		},
		"run": func() *Picture {
			return Layout("Run r1", Node{Title: "When a webhook arrives", Status: Succeeded}, []Node{
				{Title: "Contact", Status: Succeeded},
				{Title: "Choose a branch", Status: Succeeded, Branches: []Branch{
					{Label: "Branch 1", Taken: true, Steps: []Node{{Title: "Hot lead", Status: Failed}}},
					{Label: "No match", NotTaken: true},
				}},
				{Title: "Skipped one", Status: Skipped},
				{Title: "Never got here", Status: NotReached},
			}, true)
		},
		"long-names": func() *Picture {
			return Layout(`Names with <markup> & "quotes"`, Node{Title: "When a webhook arrives", Detail: "/hooks/" + strings.Repeat("very-long-path-", 8)},
				[]Node{node("A step whose label is far too long to fit in one box <b>", strings.Repeat("détail ", 10))}, false)
		},
	}
}

func TestGolden(t *testing.T) {
	for name, build := range cases() {
		t.Run(name, func(t *testing.T) {
			got := build().SVG("d")
			path := filepath.Join("testdata", name+".svg")
			if *update {
				if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./web/diagram -update)", err)
			}
			if got+"\n" != string(want) {
				t.Errorf("SVG differs from %s (rerun with -update and look at it)\ngot:\n%s", path, got)
			}
		})
	}
}

// TestWellFormed: every picture is XML a browser parses, text escaped.
func TestWellFormed(t *testing.T) {
	for name, build := range cases() {
		d := xml.NewDecoder(strings.NewReader(build().SVG("d")))
		for {
			_, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: not well-formed XML: %v", name, err)
				}
				break
			}
		}
	}
}

// TestGeometry: boxes never overlap, stay inside the picture, and every
// arrow ends on the top edge of a box.
func TestGeometry(t *testing.T) {
	for name, build := range cases() {
		p := build()
		for i, a := range p.Boxes {
			if a.X < 0 || a.Y < 0 || a.X+a.W > p.W || a.Y+a.H > p.H {
				t.Errorf("%s: box %q (%d,%d %dx%d) outside the %dx%d picture", name, a.Node.Title, a.X, a.Y, a.W, a.H, p.W, p.H)
			}
			for _, b := range p.Boxes[i+1:] {
				if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
					t.Errorf("%s: boxes %q and %q overlap", name, a.Node.Title, b.Node.Title)
				}
			}
		}
		for _, e := range p.Edges {
			end := e.Points[len(e.Points)-1]
			if !e.Arrow {
				continue
			}
			hit := false
			for _, b := range p.Boxes {
				if end[1] == b.Y && end[0] == b.X+b.W/2 {
					hit = true
				}
			}
			if !hit {
				t.Errorf("%s: arrow %v ends on no box", name, e.Points)
			}
		}
	}
}

// TestShape: the picture has one box per node, branches side by side,
// steps after a switch below all of its branches.
func TestShape(t *testing.T) {
	p := cases()["switch"]()
	if len(p.Boxes) != 1+1+2+1+1 {
		t.Fatalf("%d boxes, want trigger + switch + 3 branch steps + answer", len(p.Boxes))
	}
	by := map[string]Box{}
	for _, b := range p.Boxes {
		by[b.Node.Title] = b
	}
	big, export, answer := by["Big order"], by["Export"], by["Answer"]
	if big.Y != export.Y || big.X >= export.X {
		t.Errorf("branch 1 (%d,%d) and branch 2 (%d,%d) are not side by side, in order", big.X, big.Y, export.X, export.Y)
	}
	if answer.Y <= by["Tell the team"].Y+BoxH {
		t.Errorf("the step after the switch is not below the longest branch")
	}
	if len(p.Joins) != 1 {
		t.Errorf("%d join points, want the one where the branches meet", len(p.Joins))
	}
	labels := []string{}
	for _, e := range p.Edges {
		if e.Label != "" {
			labels = append(labels, e.Label)
		}
	}
	if strings.Join(labels, ",") != "Branch 1,Branch 2,Otherwise" {
		t.Errorf("branch labels %q", labels)
	}
	svg := cases()["run"]().SVG("d")
	for _, want := range []string{`class="fd-box fd-failed"`, `✗ failed`, `not reached`, `↷ skipped`, `class="fd-edge fd-taken"`, `Branch 1 ✓`, `class="fd-edge fd-not-taken"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("run picture lacks %s", want)
		}
	}
	long := cases()["long-names"]().SVG("d")
	if !strings.Contains(long, "A step whose label is fa…") || !strings.Contains(long, "one box &lt;b&gt;, détail") {
		t.Errorf("long names are not shortened with the whole text on hover:\n%s", long)
	}
}
