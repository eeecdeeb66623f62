package aggregator_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ds "github.com/ipfs/go-datastore"
	leveldb "github.com/ipfs/go-ds-leveldb"

	"github.com/storacha/storefs/store/aggregator"
)

// expect is testdata/expect.json: what Piri's own structs held when
// scripts/piri-aggregator wrote testdata/datastore.golden.
type expect struct {
	Aggregates []struct {
		Root   string `json:"root"`
		Pieces []struct {
			Link  string   `json:"link"`
			Index uint64   `json:"index"`
			Path  []string `json:"path"`
		} `json:"pieces"`
	} `json:"aggregates"`
	BufferTotal uint64   `json:"buffer_total"`
	Buffer      []string `json:"buffer"`
	Submission  []string `json:"submission"`
}

// golden writes testdata/datastore.golden into a LevelDB at
// <dataDir>/aggregator/datastore, as Piri's datastore would hold it.
func golden(t *testing.T, dataDir string, edit func(key string, value []byte) []byte) {
	t.Helper()
	f, err := os.Open("testdata/datastore.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := leveldb.NewDatastore(aggregator.Dir(dataDir), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		key, hx, _ := strings.Cut(sc.Text(), " ")
		value, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			value = edit(key, value)
		}
		if err := d.Put(context.Background(), ds.NewKey(key), value); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/expect.json")
	if err != nil {
		t.Fatal(err)
	}
	var want expect
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	golden(t, dir, nil)
	db, err := aggregator.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()

	var got []aggregator.Aggregate
	if err := db.Aggregates(ctx, func(a aggregator.Aggregate) bool { got = append(got, a); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want.Aggregates) {
		t.Fatalf("%d aggregates, want %d", len(got), len(want.Aggregates))
	}
	for _, w := range want.Aggregates {
		i := slices.IndexFunc(got, func(a aggregator.Aggregate) bool { return a.Root == w.Root })
		if i < 0 {
			t.Fatalf("aggregate %s not read", w.Root)
		}
		a := got[i]
		if len(a.Pieces) != len(w.Pieces) {
			t.Fatalf("aggregate %s: %d pieces, want %d", w.Root, len(a.Pieces), len(w.Pieces))
		}
		for j, wp := range w.Pieces {
			p := a.Pieces[j]
			var path []string
			for _, n := range p.Path {
				path = append(path, hex.EncodeToString(n))
			}
			if p.Piece != wp.Link || p.Index != wp.Index || !slices.Equal(path, wp.Path) {
				t.Errorf("aggregate %s piece %d: %+v, want %+v", w.Root, j, p, wp)
			}
		}
		one, err := db.Aggregate(ctx, w.Root)
		if err != nil || one.Root != w.Root {
			t.Errorf("Aggregate(%s): %v", w.Root, err)
		}
	}
	buf, err := db.Buffer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if buf.TotalSize != want.BufferTotal || !slices.Equal(buf.Pieces, want.Buffer) {
		t.Errorf("buffer %+v, want %d %v", buf, want.BufferTotal, want.Buffer)
	}
	sub, err := db.Submission(ctx)
	if err != nil || !slices.Equal(sub, want.Submission) {
		t.Errorf("submission %v (%v), want %v", sub, err, want.Submission)
	}
	if _, err := db.Aggregate(ctx, want.Buffer[0]); !errors.Is(err, aggregator.ErrNotFound) {
		t.Errorf("a piece that is no aggregate: %v, want ErrNotFound", err)
	}
}

func TestBadInput(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		if _, err := aggregator.Open(t.TempDir()); !errors.Is(err, aggregator.ErrNone) {
			t.Fatalf("a data dir without one: %v", err)
		}
	})
	t.Run("locked", func(t *testing.T) {
		dir := t.TempDir()
		golden(t, dir, nil)
		held, err := leveldb.NewDatastore(aggregator.Dir(dir), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		if _, err := aggregator.Open(dir); !errors.Is(err, aggregator.ErrLocked) || !strings.Contains(err.Error(), "copy") {
			t.Fatalf("a locked datastore: %v", err)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		dir := t.TempDir()
		golden(t, dir, func(key string, v []byte) []byte {
			if strings.HasPrefix(key, "/aggregates/") || key == "/workspace/buffer" {
				return v[:len(v)/2]
			}
			return v
		})
		db, err := aggregator.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.Aggregates(context.Background(), func(aggregator.Aggregate) bool { return true })
		if err == nil || !strings.Contains(err.Error(), filepath.Join("aggregator", "datastore")) {
			t.Errorf("a truncated aggregate: %v", err)
		}
		if _, err := db.Buffer(context.Background()); err == nil {
			t.Errorf("a truncated buffer read without error")
		}
	})
}
