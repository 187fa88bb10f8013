// Package diagram draws a flow as a picture: the trigger on top, the steps
// below it, a switch's branches side by side and the steps after a switch
// joined below them. Layout places boxes on a grid of fixed-size boxes (no
// text measuring: the server cannot know the browser's fonts, so long text
// is shortened and shown whole on hover); SVG writes the result as one
// inline <svg> element styled by app.css classes, since the page's CSP
// refuses inline styles.
//
// The package knows nothing of flows or runs: callers describe what to
// draw as a tree of Nodes (web/views builds it from a flow and, on a run
// page, the run's step results).
package diagram

import (
	"fmt"
	"html"
	"strings"
	"unicode/utf8"
)

// Status is how far a run got with a box; empty on the builder, where no
// run is shown.
type Status string

// Statuses a run page shows.
const (
	Succeeded  Status = "succeeded"
	Failed     Status = "failed"
	Skipped    Status = "skipped"
	NotReached Status = "not-reached"
	Running    Status = "running"
)

// statusText is what a box says about its status.
var statusText = map[Status]string{
	Succeeded:  "✓ succeeded",
	Failed:     "✗ failed",
	Skipped:    "↷ skipped",
	NotReached: "not reached",
	Running:    "… running",
}

// Node is one box: the trigger or a step. A node with Branches is a
// switch.
type Node struct {
	// Title is the box's first line (the step's label), Detail its second
	// (what kind of step it is); both are shortened to fit.
	Title, Detail string
	// Href is where a click on the box goes (its form, or its result).
	Href string
	// Status is set on run pages.
	Status Status
	// Branches are a switch's cases, in order.
	Branches []Branch
}

// Branch is one case of a switch.
type Branch struct {
	// Label names the branch on its edge ("Branch 1", "Otherwise"); Hint
	// is shown on hover (the condition).
	Label, Hint string
	// Taken marks the branch a run went down; NotTaken the ones it did
	// not (both false on the builder).
	Taken, NotTaken bool
	Steps           []Node
}

// Sizes of the grid, in SVG user units (pixels at 100%).
const (
	BoxW     = 200 // box width
	BoxH     = 54  // box height on the builder
	RunBoxH  = 70  // box height when a status line is shown
	VGap     = 30  // vertical space between boxes (an edge)
	HGap     = 20  // horizontal space between branch columns
	LabelGap = 22  // extra vertical space for a branch label
	Margin   = 10  // blank border around the picture
	// EmptyW is the width of a branch without steps.
	EmptyW = 120
	// titleChars and detailChars are how many characters fit a box line
	// at the sizes app.css gives them (13px and 11px system fonts).
	titleChars  = 25
	detailChars = 31
	labelChars  = 16
)

// Box is a placed node.
type Box struct {
	X, Y, W, H int
	Node       *Node
	// Path locates the node in the tree: "t" for the trigger, then step
	// indexes and branch indexes ("0", "1.b0.0"); it makes element ids.
	Path string
}

// Edge is a placed arrow, a polyline from its first to its last point.
type Edge struct {
	Points [][2]int
	// Label is written near the top of the edge (a branch name), Hint on
	// hover.
	Label, Hint string
	// Taken and NotTaken carry the branch's run state; Reached is set
	// when both ends of a plain edge were reached in a run.
	Taken, NotTaken bool
	// Arrow is false for the lines that join branches (they end in a
	// join point, not a box).
	Arrow bool
}

// Picture is a laid-out diagram.
type Picture struct {
	W, H  int
	Boxes []Box
	Edges []Edge
	// Joins are the points where branches meet again.
	Joins [][2]int
	// Run is true when boxes carry a status line.
	Run bool
	// Title is the picture's accessible name.
	Title string
}

// Layout places the trigger and the steps below it. run says whether the
// boxes get a status line (a run page).
func Layout(title string, trigger Node, steps []Node, run bool) *Picture {
	l := &layout{p: &Picture{Title: title, Run: run}, boxH: BoxH}
	if run {
		l.boxH = RunBoxH
	}
	w := max(BoxW, l.seqWidth(steps))
	cx := Margin + w/2
	y := Margin
	l.box(trigger, cx, y, "t")
	exits := []point{{cx, y + l.boxH}}
	bottom := l.seq(steps, cx, y+l.boxH+VGap, exits, "")
	l.p.W = w + 2*Margin
	l.p.H = bottom + Margin
	return l.p
}

type point = [2]int

type layout struct {
	p    *Picture
	boxH int
}

// width of one step's column.
func (l *layout) width(n *Node) int {
	if len(n.Branches) == 0 {
		return BoxW
	}
	return max(BoxW, l.branchesWidth(n))
}

func (l *layout) branchesWidth(n *Node) int {
	total := 0
	for i, b := range n.Branches {
		if i > 0 {
			total += HGap
		}
		total += l.branchWidth(b)
	}
	return total
}

func (l *layout) branchWidth(b Branch) int {
	if len(b.Steps) == 0 {
		return EmptyW
	}
	return l.seqWidth(b.Steps)
}

func (l *layout) seqWidth(steps []Node) int {
	w := 0
	for i := range steps {
		w = max(w, l.width(&steps[i]))
	}
	return w
}

// seq places steps in a column centred on cx starting at y; exits are the
// points the previous part of the flow leaves from (several after a
// switch), each joined to the first box. It returns the lowest y used and,
// through l, the boxes and edges. When steps is empty the exits stay open
// (the flow ends there).
func (l *layout) seq(steps []Node, cx, y int, exits []point, path string) int {
	bottom := y - VGap
	for i := range steps {
		n := &steps[i]
		p := fmt.Sprint(i)
		if path != "" {
			p = path + "." + p
		}
		exits = l.join(exits, cx, y)
		for _, e := range exits {
			l.p.Edges = append(l.p.Edges, Edge{Points: route(e, point{cx, y}), Arrow: true})
		}
		l.box(*n, cx, y, p)
		if len(n.Branches) == 0 {
			exits = []point{{cx, y + l.boxH}}
			bottom = y + l.boxH
			y += l.boxH + VGap
			continue
		}
		exits, bottom = l.branches(n, cx, y+l.boxH, p)
		y = bottom + VGap
	}
	return bottom
}

// join merges several exits into one point just above (cx, y), so the
// branches of a switch meet before the next step.
func (l *layout) join(exits []point, cx, y int) []point {
	if len(exits) < 2 {
		return exits
	}
	jy := y - VGap/2
	for _, e := range exits {
		l.p.Edges = append(l.p.Edges, Edge{Points: [][2]int{e, {e[0], jy}, {cx, jy}}})
	}
	j := point{cx, jy}
	l.p.Joins = append(l.p.Joins, j)
	return []point{j}
}

// branches lays out a switch's cases side by side below the switch box
// whose bottom centre is (cx, top); it returns each branch's exit and the
// lowest y used.
func (l *layout) branches(n *Node, cx, top int, path string) ([]point, int) {
	total := l.branchesWidth(n)
	x := cx - total/2
	var exits []point
	bottom := top
	start := top + VGap + LabelGap
	for j, b := range n.Branches {
		w := l.branchWidth(b)
		bx := x + w/2
		e := Edge{Points: route(point{cx, top}, point{bx, start}), Label: b.Label, Hint: b.Hint,
			Taken: b.Taken, NotTaken: b.NotTaken, Arrow: len(b.Steps) > 0}
		l.p.Edges = append(l.p.Edges, e)
		end := l.seq(b.Steps, bx, start, nil, fmt.Sprintf("%s.b%d", path, j))
		if len(b.Steps) == 0 {
			// An empty branch goes straight on; its line ends where
			// the first box would start.
			end = start
		}
		if len(b.Steps) > 0 {
			// seq drew no edge into the first box (no exits): the
			// branch edge above is it.
			exits = append(exits, point{bx, end})
		} else {
			exits = append(exits, point{bx, start})
		}
		bottom = max(bottom, end)
		x += w + HGap
	}
	return exits, bottom
}

// route is an orthogonal line from a to b: down, across, down.
func route(a, b point) [][2]int {
	if a[0] == b[0] {
		return [][2]int{a, b}
	}
	mid := a[1] + min(VGap/2, (b[1]-a[1])/2)
	return [][2]int{a, {a[0], mid}, {b[0], mid}, b}
}

func (l *layout) box(n Node, cx, y int, path string) {
	nn := n
	l.p.Boxes = append(l.p.Boxes, Box{X: cx - BoxW/2, Y: y, W: BoxW, H: l.boxH, Node: &nn, Path: path})
}

// shorten cuts s to n characters, ending in an ellipsis when cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// SVG writes the picture as an inline <svg> element. idPrefix makes the
// element ids unique on the page. The element is a group, not an image:
// an image's children are hidden from assistive technology, and every box
// is a link with its own accessible name.
func (p *Picture) SVG(idPrefix string) string {
	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="flow-diagram" id="%s" width="%d" height="%d" viewBox="0 0 %d %d" role="group" aria-labelledby="%s-title">`,
		esc(idPrefix), p.W, p.H, p.W, p.H, esc(idPrefix))
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`, esc(idPrefix), esc(p.Title))
	fmt.Fprintf(&b, `<defs><marker id="%s-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="fd-arrowhead"/></marker></defs>`, esc(idPrefix))
	for _, e := range p.Edges {
		cls := "fd-edge"
		if e.Taken {
			cls += " fd-taken"
		}
		if e.NotTaken {
			cls += " fd-not-taken"
		}
		pts := make([]string, len(e.Points))
		for i, pt := range e.Points {
			pts[i] = fmt.Sprintf("%d,%d", pt[0], pt[1])
		}
		b.WriteString(`<g class="` + cls + `">`)
		if e.Hint != "" {
			b.WriteString(`<title>` + esc(e.Label+": "+e.Hint) + `</title>`)
		}
		marker := ""
		if e.Arrow {
			marker = fmt.Sprintf(` marker-end="url(#%s-arrow)"`, esc(idPrefix))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none"%s/>`, strings.Join(pts, " "), marker)
		if e.Label != "" {
			last := e.Points[len(e.Points)-1]
			text := shorten(e.Label, labelChars)
			if e.Taken {
				text = shorten(e.Label, labelChars-2) + " ✓"
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" class="fd-label">%s</text>`, last[0], last[1]-LabelGap+6, esc(text))
		}
		b.WriteString(`</g>`)
	}
	for _, j := range p.Joins {
		fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="3" class="fd-join"/>`, j[0], j[1])
	}
	for _, bx := range p.Boxes {
		n := bx.Node
		cls := "fd-box"
		if bx.Path == "t" {
			cls += " fd-trigger"
		}
		if len(n.Branches) > 0 {
			cls += " fd-switch"
		}
		if n.Status != "" {
			cls += " fd-" + string(n.Status)
		}
		label := n.Title
		if n.Detail != "" {
			label += ", " + n.Detail
		}
		if n.Status != "" {
			label += ": " + strings.TrimLeft(statusText[n.Status], "✓✗↷… ")
		}
		id := idPrefix + "-" + strings.ReplaceAll(bx.Path, ".", "-")
		open, closeTag := `<g`, `</g>`
		if n.Href != "" {
			open, closeTag = fmt.Sprintf(`<a href="%s"`, esc(n.Href)), `</a>`
		}
		fmt.Fprintf(&b, `%s id="%s" class="%s" aria-label="%s"><title>%s</title>`, open, esc(id), cls, esc(label), esc(label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="6"/>`, bx.X, bx.Y, bx.W, bx.H)
		cx := bx.X + bx.W/2
		// Baselines: title, detail, status; a box without a detail line
		// centres what it has.
		ty, sy := bx.Y+22, bx.Y+59
		switch {
		case n.Detail == "" && p.Run:
			ty, sy = bx.Y+30, bx.Y+52
		case n.Detail == "":
			ty = bx.Y + 32
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" class="fd-title">%s</text>`, cx, ty, esc(shorten(n.Title, titleChars)))
		if n.Detail != "" {
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" class="fd-detail">%s</text>`, cx, bx.Y+40, esc(shorten(n.Detail, detailChars)))
		}
		if p.Run && n.Status != "" {
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" class="fd-status">%s</text>`, cx, sy, esc(statusText[n.Status]))
		}
		b.WriteString(closeTag)
	}
	b.WriteString(`</svg>`)
	return b.String()
}
