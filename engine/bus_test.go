package engine

import (
	"fmt"
	"testing"
)

func publishN(b *bus, from, n int) {
	for i := from; i < from+n; i++ {
		b.publish(Update{Type: "run", RunID: fmt.Sprintf("r%d", i)})
	}
}

func readAll(t *testing.T, s *EventStream) ([]Update, bool) {
	t.Helper()
	select {
	case <-s.Ready():
	default:
		return nil, false
	}
	return s.Read(nil)
}

func TestEventStreamResumes(t *testing.T) {
	e := &Engine{bus: newBus()}
	first := e.EventsAfter("")
	defer first.Close()
	publishN(e.bus, 0, 10)
	got, lost := readAll(t, first)
	if lost || len(got) != 10 || got[0].RunID != "r0" || got[9].RunID != "r9" {
		t.Fatalf("first read: lost %v, %d updates", lost, len(got))
	}
	// A client that saw up to r4 reconnects: it gets r5..r9, then new ones.
	again := e.EventsAfter(got[4].ID)
	defer again.Close()
	rest, lost := readAll(t, again)
	if lost || len(rest) != 5 || rest[0].RunID != "r5" || rest[0].ID != got[5].ID {
		t.Fatalf("resumed: lost %v, %+v", lost, rest)
	}
	publishN(e.bus, 10, 1)
	if next, _ := readAll(t, again); len(next) != 1 || next[0].RunID != "r10" {
		t.Fatalf("after resuming: %+v", next)
	}
	// Resuming at the newest id: nothing yet, nothing lost.
	latest := e.EventsAfter(rest[len(rest)-1].ID)
	defer latest.Close()
	if upd, lost := latest.Read(nil); lost || len(upd) != 1 || upd[0].RunID != "r10" {
		t.Fatalf("from the newest: lost %v, %+v", lost, upd)
	}
}

func TestEventStreamLost(t *testing.T) {
	e := &Engine{bus: newBus()}
	publishN(e.bus, 0, 3)
	probe := e.EventsAfter("")
	publishN(e.bus, 3, 1)
	u, _ := readAll(t, probe)
	probe.Close()
	oldID := u[0].ID

	for _, id := range []string{"x", "12345-1", "nonsense-id", e.bus.epoch + "-999999"} {
		s := e.EventsAfter(id)
		if _, lost := readAll(t, s); !lost {
			t.Errorf("id %q: not reported lost", id)
		}
		s.Close()
	}

	// Fall more than the window behind: the reader is told, and goes on
	// with the oldest update still kept.
	slow := e.EventsAfter(oldID)
	defer slow.Close()
	publishN(e.bus, 4, EventWindow+10)
	got, lost := readAll(t, slow)
	if !lost || len(got) != EventWindow {
		t.Fatalf("slow reader: lost %v, %d updates", lost, len(got))
	}
	if want := fmt.Sprintf("r%d", 4+10+EventWindow-EventWindow); got[0].RunID != want {
		t.Errorf("slow reader starts at %s, want %s", got[0].RunID, want)
	}
	// A resume from an id older than the window is lost too.
	s := e.EventsAfter(oldID)
	defer s.Close()
	if _, lost := readAll(t, s); !lost {
		t.Error("id older than the window: not reported lost")
	}
}
