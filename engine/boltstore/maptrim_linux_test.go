package boltstore

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mappedRSSKiB reads how much of the file at path the process's maps hold
// resident (/proc/self/smaps).
func mappedRSSKiB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in, total := false, 0
	for sc.Scan() {
		line := sc.Text()
		// A mapping's first line: "start-end perms offset dev inode [path]".
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && fields[5] == path
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			total += n
		}
	}
	return total
}

// The map's pages leave the resident set when trimmed, and every record
// still reads afterwards.
func TestTrimMapDropsResidentPages(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	const n = 3000
	ids := make([]string, 0, n)
	for i := 0; i < n; i++ {
		res, err := s.Accept(ctx, newEvent("f", `{"n":`+strconv.Itoa(i)+`,"pad":"`+strings.Repeat("x", 200)+`"}`), newRun("f"), 0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.RunID)
	}
	readAll := func() {
		for _, id := range ids {
			if _, err := s.Run(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The background search indexer touches the map while it works (under
	// -race it was still at it once and faulted pages back in between the
	// trim and the measurement): let it finish first.
	waitIndexed(t, s, 30*time.Second)
	readAll()
	path := s.db.Path()
	before := mappedRSSKiB(t, path)
	if before < 256 {
		t.Fatalf("only %d KiB of the map resident after reading %d runs: nothing to measure", before, n)
	}
	// Other background work (the applier's last group, a retention tick)
	// may still touch a page or two right after a trim; a trim that works
	// drops the map within a few tries, one that does not never does.
	var after int
	for try := 0; try < 5; try++ {
		s.trimMap()
		if after = mappedRSSKiB(t, path); after*4 <= before {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if after*4 > before {
		t.Fatalf("resident map %d KiB before the trim, %d KiB after five trims: want it mostly dropped", before, after)
	}
	readAll()
}
