package views

import (
	"net/url"
	"strconv"

	"github.com/switchyard/switchyard/engine"
)

// loopPageWords says which items a page of a loop shows: "items 51–100
// of 120".
func loopPageWords(lp *engine.LoopPage) string {
	switch lp.ItemCount {
	case 0:
		return "no items"
	case 1:
		return "1 item"
	}
	first := (lp.Page-1)*lp.PerPage + 1
	last := min(lp.Page*lp.PerPage, lp.ItemCount)
	if lp.Pages == 1 {
		return strconv.Itoa(lp.ItemCount) + " items"
	}
	return "items " + strconv.Itoa(first) + "–" + strconv.Itoa(last) + " of " + strconv.Itoa(lp.ItemCount)
}

// loopPageURL is the run page showing page n of a loop's items.
func loopPageURL(runID, loop string, n int) string {
	q := url.Values{"loop": {loop}, "page": {strconv.Itoa(n)}}
	return "/runs/" + url.PathEscape(runID) + "?" + q.Encode() + "#step-" + ID(loop) + "-items"
}
