package records_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/records"
)

func sampleNode(t *testing.T) (*node.Stores, *sample.Set) {
	t.Helper()
	ctx := context.Background()
	st, err := node.Open(ctx, node.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	set, err := sample.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Write(ctx, st); err != nil {
		t.Fatal(err)
	}
	return st, set
}

func list(t *testing.T, k records.Kind, prefix string) []string {
	t.Helper()
	var out []string
	for e, err := range k.List(context.Background(), prefix) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return out
}

// Kinds are recordkind's rows, in its order, for the stores present;
// only receipts carry the ran index.
func TestKinds(t *testing.T) {
	st, _ := sampleNode(t)
	var names []string
	for _, k := range st.Kinds() {
		names = append(names, k.Name)
		if want, _ := recordkind.ByName(k.Name); k.RawExt != want.RawExt || k.Dir != want.Dir {
			t.Errorf("%s: row %+v, want recordkind's %+v", k.Name, k.Kind, want)
		}
		if (k.Ran != nil) != (k.Name == recordkind.Receipts.Name) {
			t.Errorf("%s: ran index %v", k.Name, k.Ran != nil)
		}
	}
	if !slices.Equal(names, recordkind.Names()) || !slices.Equal(records.Names, recordkind.Names()) {
		t.Errorf("kinds %v, names %v; want %v", names, records.Names, recordkind.Names())
	}
	partial := records.Stores{Receipts: st.Receipts, Acceptances: st.Acceptances}
	names = nil
	for _, k := range partial.Kinds() {
		names = append(names, k.Name)
	}
	if !slices.Equal(names, []string{recordkind.Acceptances.Name, recordkind.Receipts.Name}) {
		t.Errorf("kinds of two stores: %v", names)
	}
}

// Every record lists, renders as JSON and reads raw as its store's own
// bytes; a listing by prefix keeps to it.
func TestEveryRecordShows(t *testing.T) {
	st, set := sampleNode(t)
	ctx := context.Background()
	counts := map[string]int{
		recordkind.Allocations.Name: len(set.Allocations), recordkind.Acceptances.Name: len(set.Acceptances),
		recordkind.Consolidations.Name: len(set.Consolidations), recordkind.Delegations.Name: len(set.Delegations),
		recordkind.Receipts.Name: len(set.Receipts),
	}
	for _, k := range st.Kinds() {
		ids := list(t, k, "")
		if len(ids) != counts[k.Name] || len(ids) == 0 {
			t.Fatalf("%s: %d listed, want %d", k.Name, len(ids), counts[k.Name])
		}
		for _, id := range ids {
			js, _, err := k.JSON(ctx, id)
			if err != nil || !json.Valid(js) {
				t.Fatalf("%s %s: JSON %v\n%s", k.Name, id, err, js)
			}
			raw, _, err := k.Raw(ctx, id)
			if err != nil || len(raw) == 0 {
				t.Fatalf("%s %s: raw %v", k.Name, id, err)
			}
		}
		if got := list(t, k, ids[0]); !slices.Contains(got, ids[0]) || len(got) > len(ids) {
			t.Errorf("%s: listing by prefix %q: %v", k.Name, ids[0], got)
		}
		if got := list(t, k, "no such prefix"); len(got) != 0 {
			t.Errorf("%s: listing by a prefix nothing has: %v", k.Name, got)
		}
	}
	// The raw bytes are the stored ones.
	a := set.Acceptances[0]
	stored, err := st.Acceptances.Raw(ctx, a.ID())
	if err != nil {
		t.Fatal(err)
	}
	k := st.Kinds()[1]
	if raw, _, _ := k.Raw(ctx, a.ID()); !bytes.Equal(raw, stored) {
		t.Error("raw bytes differ from the store's")
	}
}

// An acceptance's time is its own executedAt (seconds, or milliseconds
// when too large for seconds), for its JSON and its raw bytes alike; a
// record with none has the backend's (zero in memory).
func TestRecordTimes(t *testing.T) {
	st, set := sampleNode(t)
	ctx := context.Background()
	acc := st.Kinds()[1]
	for _, c := range []struct {
		at   int64
		want time.Time
	}{{1764000000, time.Unix(1764000000, 0)}, {1764000000123, time.UnixMilli(1764000000123)}, {0, time.Time{}}} {
		a := set.Acceptances[0]
		a.ExecutedAt = c.at
		if err := st.Acceptances.Put(ctx, a.ID(), a); err != nil {
			t.Fatal(err)
		}
		_, jt, err := acc.JSON(ctx, a.ID())
		if err != nil || !jt.Equal(c.want) {
			t.Errorf("executedAt %d: JSON time %v, %v; want %v", c.at, jt, err, c.want)
		}
		_, rt, err := acc.Raw(ctx, a.ID())
		if err != nil || !rt.Equal(c.want) {
			t.Errorf("executedAt %d: raw time %v, %v; want %v", c.at, rt, err, c.want)
		}
	}
	// Bytes that do not decode still show raw, with the backend's time.
	id := set.Acceptances[0].ID()
	if err := st.Acceptances.PutRaw(ctx, id, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	if raw, _, err := acc.Raw(ctx, id); err != nil || string(raw) != "garbage" {
		t.Errorf("raw of an undecodable acceptance: %q, %v", raw, err)
	}
	if _, _, err := acc.JSON(ctx, id); err == nil {
		t.Error("JSON of an undecodable acceptance: no error")
	}
}
