package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
)

// The data store (engine.KVStore): checked when the store keeps one.

func (h *harness) kv() engine.KVStore {
	h.t.Helper()
	kv, ok := h.s.(engine.KVStore)
	if !ok {
		h.t.Skip("the store keeps no data store")
	}
	return kv
}

func (h *harness) kvWrite(w engine.KVWrite) engine.KVResult {
	h.t.Helper()
	res, err := h.kv().KVWrite(ctx, w)
	if err != nil {
		h.t.Fatalf("%s %s/%s: %v", w.Op, w.Namespace, w.Key, err)
	}
	return res
}

func (h *harness) kvValue(ns, key string, now time.Time) (string, bool) {
	h.t.Helper()
	e, err := h.kv().KVGet(ctx, ns, key, now)
	if errors.Is(err, engine.ErrNotFound) {
		return "", false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	if e.Namespace != ns || e.Key != key {
		h.t.Fatalf("get %s/%s answered %s/%s", ns, key, e.Namespace, e.Key)
	}
	return string(e.Value), true
}

// Values come back byte for byte as written, after a reopen too; keys of
// any text list in order, a page at a time; namespaces are apart; a delete
// says whether there was a value.
func testKVValues(t *testing.T, h *harness) {
	values := map[string]string{
		"text":    `"héllo <b>&</b> \u00e9 \n"`,
		"number":  `12345678901234567890`,
		"float":   `1.50`,
		"object":  `{"b":1,"a":[true,null,{"x":"y"}]}`,
		"spaced":  `{ "kept" : [ 1 , 2 ] }`,
		"null":    `null`,
		"conv:42": `{"last_message_id":"m-9"}`,
		"a/b c?d": `"slash and space"`,
		"ключ":    `"unicode key"`,
	}
	for k, v := range values {
		h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "flow-a", Key: k, Value: engine.KVValue(v)})
	}
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "shared.ns", Key: "text", Value: engine.KVValue(`"other"`)})
	h.reopen()
	now := time.Now()
	for k, v := range values {
		if got, ok := h.kvValue("flow-a", k, now); !ok || got != v {
			t.Errorf("%q = %q (found %v), want %q", k, got, ok, v)
		}
	}
	if got, _ := h.kvValue("shared.ns", "text", now); got != `"other"` {
		t.Errorf("shared.ns/text = %q", got)
	}
	if _, ok := h.kvValue("flow-b", "text", now); ok {
		t.Error("a namespace sees another's key")
	}

	var listed []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > len(values) {
			t.Fatal("listing does not end")
		}
		page, err := h.kv().KVList(ctx, "flow-a", after, 4, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) > 4 {
			t.Fatalf("page of %d entries, limit 4", len(page.Entries))
		}
		for _, e := range page.Entries {
			listed = append(listed, e.Key)
			if string(e.Value) != values[e.Key] || e.UpdatedAt.IsZero() || e.ExpiresAt != nil {
				t.Errorf("listed %+v", e)
			}
		}
		if page.NextCursor == "" {
			break
		}
		after = page.NextCursor
	}
	if len(listed) != len(values) {
		t.Fatalf("listed %v, want %d keys", listed, len(values))
	}
	for i := 1; i < len(listed); i++ {
		if listed[i-1] >= listed[i] {
			t.Fatalf("listing out of order: %v", listed)
		}
	}

	nss, err := h.kv().KVNamespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]engine.KVNamespace{}
	for _, n := range nss {
		got[n.Name] = n
	}
	if len(nss) != 2 || got["flow-a"].Keys != len(values) || got["shared.ns"].Keys != 1 || got["shared.ns"].Bytes != int64(len("text")+len(`"other"`)) {
		t.Fatalf("namespaces = %+v", nss)
	}

	if res := h.kvWrite(engine.KVWrite{Op: engine.KVDelete, Namespace: "shared.ns", Key: "text"}); !res.Existed {
		t.Error("delete of a value: existed false")
	}
	if res := h.kvWrite(engine.KVWrite{Op: engine.KVDelete, Namespace: "shared.ns", Key: "text"}); res.Existed {
		t.Error("delete of nothing: existed true")
	}
	h.reopen()
	if _, ok := h.kvValue("shared.ns", "text", time.Now()); ok {
		t.Error("deleted value is back after reopen")
	}
	nss, err = h.kv().KVNamespaces(ctx)
	if err != nil || len(nss) != 1 || nss[0].Name != "flow-a" {
		t.Fatalf("namespaces after emptying one = %+v, %v", nss, err)
	}
	// Overwriting replaces the value and keeps the count.
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "flow-a", Key: "text", Value: engine.KVValue(`"new"`)})
	if got, _ := h.kvValue("flow-a", "text", time.Now()); got != `"new"` {
		t.Errorf("after overwrite: %q", got)
	}
	if nss, _ = h.kv().KVNamespaces(ctx); nss[0].Keys != len(values) {
		t.Errorf("keys after overwrite = %d", nss[0].Keys)
	}
}

// A value set with a time to live is gone once it passed, from reads,
// listings and (after a purge) the namespace's counts; an increment keeps
// the time to live; a later set without one keeps the value for good.
func testKVTTL(t *testing.T, h *harness) {
	t0 := time.Now().Add(-time.Hour)
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "short", Value: engine.KVValue(`1`), TTL: time.Minute, Now: t0})
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "long", Value: engine.KVValue(`2`), TTL: 3 * time.Hour, Now: t0})
	h.kvWrite(engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "long", By: 1, Now: t0.Add(time.Second)})
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "kept", Value: engine.KVValue(`3`), TTL: time.Minute, Now: t0})
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "kept", Value: engine.KVValue(`4`), Now: t0})
	now := time.Now()
	if v, ok := h.kvValue("ns", "short", t0.Add(30*time.Second)); !ok || v != "1" {
		t.Errorf("before it expires: %q %v", v, ok)
	}
	if _, ok := h.kvValue("ns", "short", now); ok {
		t.Error("expired value still read")
	}
	e, err := h.kv().KVGet(ctx, "ns", "long", now)
	if err != nil || string(e.Value) != "3" || e.ExpiresAt == nil || e.ExpiresAt.Sub(t0.Add(3*time.Hour)).Abs() > time.Millisecond {
		t.Errorf("incremented value with ttl = %+v, %v", e, err)
	}
	if v, ok := h.kvValue("ns", "kept", now); !ok || v != "4" {
		t.Errorf("value set again without ttl: %q %v", v, ok)
	}
	page, err := h.kv().KVList(ctx, "ns", "", 10, now)
	if err != nil || len(page.Entries) != 2 {
		t.Errorf("listing shows expired values: %+v %v", page, err)
	}
	// An increment of an expired counter starts again from zero.
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "counter", Value: engine.KVValue(`41`), TTL: time.Minute, Now: t0})
	if res := h.kvWrite(engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "counter", By: 1}); string(res.Value) != "1" {
		t.Errorf("increment of an expired counter = %s, want 1", res.Value)
	}
	n, err := h.kv().KVPurge(ctx, now)
	if err != nil || n != 1 {
		t.Errorf("purge = %d, %v; want the one expired value", n, err)
	}
	h.reopen()
	nss, err := h.kv().KVNamespaces(ctx)
	if err != nil || len(nss) != 1 || nss[0].Keys != 3 || nss[0].Bytes != int64(len("long1kept1counter1")) {
		t.Errorf("namespaces after purge = %+v, %v", nss, err)
	}
	if n, err := h.kv().KVPurge(ctx, now); err != nil || n != 0 {
		t.Errorf("second purge = %d, %v", n, err)
	}
}

// Increments are atomic: concurrent writers lose none. A write named
// Once is done once: the same name again (a step run again after a crash)
// returns the first result and writes nothing, after a reopen too, until
// purged after engine.KVOnceKeep.
func testKVIncrement(t *testing.T, h *harness) {
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := h.kv().KVWrite(ctx, engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "hits", By: 1, Once: fmt.Sprintf("run_%d:count#%d", w, i)})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := h.kvValue("ns", "hits", time.Now()); v != strconv.Itoa(writers*each) {
		t.Fatalf("after %d concurrent increments: %s", writers*each, v)
	}
	first := h.kvWrite(engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "hits", By: 5, Once: "run_x:count#1"})
	h.reopen()
	again := h.kvWrite(engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "hits", By: 5, Once: "run_x:count#1"})
	if first.Replayed || !again.Replayed || string(again.Value) != string(first.Value) || string(first.Value) != strconv.Itoa(writers*each+5) {
		t.Fatalf("named increment twice: first %+v, again %+v", first, again)
	}
	if v, _ := h.kvValue("ns", "hits", time.Now()); v != strconv.Itoa(writers*each+5) {
		t.Fatalf("a named increment done twice: %s", v)
	}
	// Another attempt is another write.
	if res := h.kvWrite(engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "hits", By: 5, Once: "run_x:count#2"}); res.Replayed {
		t.Fatal("a new attempt was taken for the old one")
	}
	// Sets and deletes are named too.
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "s", Value: engine.KVValue(`1`), Once: "run_y:set#1"})
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "s", Value: engine.KVValue(`2`)})
	if res := h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "s", Value: engine.KVValue(`1`), Once: "run_y:set#1"}); !res.Replayed {
		t.Error("named set done twice")
	}
	if v, _ := h.kvValue("ns", "s", time.Now()); v != "2" {
		t.Errorf("a replayed set overwrote a later value: %s", v)
	}
	del := h.kvWrite(engine.KVWrite{Op: engine.KVDelete, Namespace: "ns", Key: "s", Once: "run_y:del#1"})
	if again := h.kvWrite(engine.KVWrite{Op: engine.KVDelete, Namespace: "ns", Key: "s", Once: "run_y:del#1"}); !del.Existed || !again.Existed || !again.Replayed {
		t.Errorf("named delete: %+v then %+v", del, again)
	}
	// Whole numbers stay exact past float64's 2^53; fractions add.
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "big", Value: engine.KVValue(`9007199254740993`)})
	if res := h.kvWrite(engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "big", By: 1}); string(res.Value) != "9007199254740994" {
		t.Errorf("big increment = %s", res.Value)
	}
	if res := h.kvWrite(engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "frac", By: 0.25}); string(res.Value) != "0.25" {
		t.Errorf("fractional increment = %s", res.Value)
	}
	if res := h.kvWrite(engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "frac", By: -1}); string(res.Value) != "-0.75" {
		t.Errorf("negative increment = %s", res.Value)
	}
	// A value that is not a number is refused, and left alone.
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "word", Value: engine.KVValue(`"5"`)})
	_, err := h.kv().KVWrite(ctx, engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "word", By: 1, Once: "run_z:inc#1"})
	var ke *engine.KVError
	if !errors.As(err, &ke) || !errors.Is(err, engine.ErrKVNotNumber) || ke.Field != "key" {
		t.Errorf("increment of text: %v", err)
	}
	if v, _ := h.kvValue("ns", "word", time.Now()); v != `"5"` {
		t.Errorf("refused increment changed the value: %s", v)
	}
	// A refused write is not remembered: once the value is fixed, the
	// same attempt works.
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "word", Value: engine.KVValue(`5`)})
	if res := h.kvWrite(engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "word", By: 1, Once: "run_z:inc#1"}); res.Replayed || string(res.Value) != "6" {
		t.Errorf("increment after a refusal = %+v", res)
	}
	// Names are forgotten after KVOnceKeep.
	if _, err := h.kv().KVPurge(ctx, time.Now().Add(engine.KVOnceKeep+time.Minute)); err != nil {
		t.Fatal(err)
	}
	if res := h.kvWrite(engine.KVWrite{Op: engine.KVIncrement, Namespace: "ns", Key: "hits", By: 5, Once: "run_x:count#1"}); res.Replayed {
		t.Error("a write name outlived its keep")
	}
}

// Limits: 64 KiB a value, 8 MiB and 10,000 keys a namespace, keys and
// namespaces of the documented shape; each refusal names its field and
// writes nothing. Expired values make room.
func testKVLimits(t *testing.T, h *harness) {
	kv := h.kv()
	refused := func(w engine.KVWrite, field string, kind error) {
		t.Helper()
		_, err := kv.KVWrite(ctx, w)
		var ke *engine.KVError
		if !errors.As(err, &ke) || ke.Field != field || !errors.Is(err, kind) {
			t.Errorf("%s %q/%q: %v, want a %v error on %s", w.Op, w.Namespace, clipKey(w.Key), err, kind, field)
		}
	}
	str := func(n int) engine.KVValue { return engine.KVValue(`"` + strings.Repeat("x", n-2) + `"`) }
	refused(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "big", Value: str(engine.MaxKVValue + 1)}, "value", engine.ErrKVLimit)
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "max", Value: str(engine.MaxKVValue)})
	refused(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "bad", Value: engine.KVValue(`{"a":`)}, "value", engine.ErrKVInvalid)
	refused(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "", Value: engine.KVValue(`1`)}, "key", engine.ErrKVInvalid)
	refused(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "a\x00b", Value: engine.KVValue(`1`)}, "key", engine.ErrKVInvalid)
	refused(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: strings.Repeat("k", engine.MaxKVKey+1), Value: engine.KVValue(`1`)}, "key", engine.ErrKVLimit)
	refused(engine.KVWrite{Op: engine.KVSet, Namespace: "a/b", Key: "k", Value: engine.KVValue(`1`)}, "namespace", engine.ErrKVInvalid)
	refused(engine.KVWrite{Op: engine.KVSet, Namespace: "", Key: "k", Value: engine.KVValue(`1`)}, "namespace", engine.ErrKVInvalid)
	refused(engine.KVWrite{Op: engine.KVSet, Namespace: "ns", Key: "k", Value: engine.KVValue(`1`), TTL: engine.MaxKVTTL + 1}, "ttl", engine.ErrKVInvalid)

	// Bytes: fill a namespace to just under 8 MiB with 64 KiB values.
	per := int64(engine.MaxKVValue + len("v000"))
	full := int(engine.MaxKVNamespaceBytes / per)
	var wg sync.WaitGroup
	for i := range full {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := engine.KVWrite{Op: engine.KVSet, Namespace: "bytes", Key: fmt.Sprintf("v%03d", i), Value: str(engine.MaxKVValue)}
			if i == 0 {
				// This one has expired an hour ago (and is not purged).
				w.TTL, w.Now = time.Minute, time.Now().Add(-time.Hour)
			}
			if _, err := kv.KVWrite(ctx, w); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// The expired value makes room for one more; then the namespace is full.
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "bytes", Key: "v999", Value: str(engine.MaxKVValue)})
	refused(engine.KVWrite{Op: engine.KVSet, Namespace: "bytes", Key: "v998", Value: str(engine.MaxKVValue)}, "value", engine.ErrKVLimit)
	if _, ok := h.kvValue("bytes", "v998", time.Now()); ok {
		t.Error("a refused value was stored")
	}
	// Making a value smaller is always allowed.
	h.kvWrite(engine.KVWrite{Op: engine.KVSet, Namespace: "bytes", Key: "v999", Value: engine.KVValue(`1`)})

	// Keys: 10,000 small ones (written concurrently, so they share
	// transactions), then one more is refused; a key that exists still
	// takes a new value.
	keys := make(chan int)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				if _, err := kv.KVWrite(ctx, engine.KVWrite{Op: engine.KVSet, Namespace: "keys", Key: strconv.Itoa(i), Value: engine.KVValue(`0`)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for i := range engine.MaxKVKeys {
		keys <- i
	}
	close(keys)
	wg.Wait()
	refused(engine.KVWrite{Op: engine.KVIncrement, Namespace: "keys", Key: "one-more", By: 1}, "key", engine.ErrKVLimit)
	h.kvWrite(engine.KVWrite{Op: engine.KVIncrement, Namespace: "keys", Key: "7", By: 1})
	nss, err := kv.KVNamespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nss {
		if n.Name == "keys" && n.Keys != engine.MaxKVKeys {
			t.Errorf("keys namespace holds %d", n.Keys)
		}
	}
}

func clipKey(k string) string {
	if len(k) > 20 {
		return k[:20] + "…"
	}
	return k
}
