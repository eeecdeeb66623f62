package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/testsupport/uploads"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/carblob"
	"github.com/storacha/storefs/store/catalog"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/memory"
)

// counting counts the blob reads that reach the store.
type counting struct {
	blobstore.Store
	gets atomic.Int64
}

func (c *counting) Get(ctx context.Context, d mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, d, opts...)
}

type node struct {
	blobs   *counting
	uploads []*uploads.Upload
	dag     *uploads.DAG
	other   [][]byte
}

func put(t *testing.T, s blobstore.Store, data []byte) mh.Multihash {
	t.Helper()
	d, _ := mh.Sum(data, mh.SHA2_256, -1)
	if err := s.Put(context.Background(), d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return d
}

// newNode stores one DAG packed as the JS client and as guppy pack it,
// and a few blobs that are no CAR.
func newNode(t *testing.T) *node {
	t.Helper()
	big := make([]byte, 2<<20)
	rand.NewChaCha8([32]byte{7}).Read(big)
	entries := []uploads.Entry{{Path: "big.bin", Data: big}}
	for i := range 120 {
		entries = append(entries, uploads.Entry{Path: fmt.Sprintf("dir/f%03d", i), Data: []byte(fmt.Sprint("file ", i))})
	}
	d, err := uploads.Import(entries, uploads.Options{Chunk: 32 << 10, MaxLinks: 8, HAMTAbove: 50})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{blobs: &counting{Store: blobstore.New(memory.New(), blobstore.S3{})}, dag: d}
	for _, p := range []uploads.Pack{uploads.JS(512 << 10), uploads.Guppy(700<<10, 60)} {
		u, err := p.Pack(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range append(append([]uploads.Blob{}, u.Shards...), u.Indexes...) {
			put(t, n.blobs, b.Data)
		}
		n.uploads = append(n.uploads, u)
	}
	for i := range 5 {
		b := make([]byte, 100+i*3000)
		rand.NewChaCha8([32]byte{byte(i)}).Read(b)
		n.other = append(n.other, b)
		put(t, n.blobs, b)
	}
	return n
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func refresh(t *testing.T, c *catalog.Catalog, blobs blobstore.Store) catalog.Stats {
	t.Helper()
	st, err := c.Refresh(context.Background(), blobs, catalog.Options{Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The catalogue says what every blob is and where every indexed block
// lies; a second refresh, in a reopened catalogue, reads nothing.
func TestRefreshAndFind(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	dir := t.TempDir()
	c, err := catalog.Open(dir, "memory")
	if err != nil {
		t.Fatal(err)
	}
	st := refresh(t, c, n.blobs)
	var shards, indexes, slices int64
	for _, u := range n.uploads {
		shards += int64(len(u.Shards))
		indexes += int64(len(u.Indexes))
		slices += int64(len(u.Slices))
	}
	if st.Read != shards+indexes+5 || st.Indexes != indexes || st.Shards != shards || st.Other != 5 || st.Failed != 0 {
		t.Fatalf("stats %+v; want %d shards, %d indexes, 5 other", st, shards, indexes)
	}
	// The JS index also holds each shard's own slice.
	if want := slices + int64(len(n.uploads[0].Shards)); st.Slices != want {
		t.Errorf("%d slices catalogued, want %d", st.Slices, want)
	}
	for i, u := range n.uploads {
		for j, s := range u.Shards {
			b, ok, err := c.Blob(ctx, s.Digest)
			if err != nil || !ok || b.Kind != carblob.Shard {
				t.Fatalf("upload %d shard %d: %+v %v %v", i, j, b, ok, err)
			}
			wantRoots := 0
			if i == 0 && j == len(u.Shards)-1 {
				wantRoots = 1
			}
			if len(b.Roots) != wantRoots {
				t.Errorf("upload %d shard %d: roots %v", i, j, b.Roots)
			}
		}
		for _, ix := range u.Indexes {
			if b, ok, _ := c.Blob(ctx, ix.Digest); !ok || b.Kind != carblob.Index {
				t.Errorf("upload %d: index blob is %v", i, b.Kind)
			}
		}
		for digest, want := range u.Slices {
			locs, err := c.Find(ctx, mh.Multihash(digest))
			if err != nil {
				t.Fatal(err)
			}
			ok := false
			for _, l := range locs {
				ok = ok || (bytes.Equal(l.Shard, want.Shard) && l.Offset == want.Offset && l.Length == want.Length && l.Here && l.Index != nil)
			}
			if !ok {
				t.Fatalf("block %x: found at %+v, want %+v", digest, locs, want)
			}
		}
	}
	whole := n.uploads[1].Shards[0]
	if locs, _ := c.Find(ctx, whole.Digest); len(locs) == 0 || !bytes.Equal(locs[0].Shard, whole.Digest) || locs[0].Offset != 0 || locs[0].Length != uint64(len(whole.Data)) {
		t.Errorf("a whole blob: %+v", locs)
	}
	unknown, _ := mh.Sum([]byte("nowhere"), mh.SHA2_256, -1)
	if locs, err := c.Find(ctx, unknown); err != nil || len(locs) != 0 {
		t.Errorf("an unknown block: %+v, %v", locs, err)
	}
	c.Close()

	c, err = catalog.Open(dir, "memory")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n.blobs.gets.Store(0)
	again := refresh(t, c, n.blobs)
	if again.Read != 0 || n.blobs.gets.Load() != 0 || again.Listed != st.Read {
		t.Fatalf("second refresh: %+v, %d reads; want none", again, n.blobs.gets.Load())
	}
}

// A blob gone from the store drops out, and with an index blob what it
// located; a new blob is read alone.
func TestIncremental(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	objs := memory.New()
	blobs := &counting{Store: blobstore.New(objs, blobstore.S3{})}
	c, err := catalog.Open(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Only the guppy upload, then its first index goes.
	u := n.uploads[1]
	for _, b := range append(append([]uploads.Blob{}, u.Shards...), u.Indexes...) {
		put(t, blobs, b.Data)
	}
	refresh(t, c, blobs)
	gone := u.Indexes[0]
	ix, _ := carblob.DecodeIndex(gone.Data)
	someSlice := ix.Shards[0].Slices[0].Digest
	if err := objs.Delete(ctx, blobstore.S3{}.Key(gone.Digest)); err != nil {
		t.Fatal(err)
	}
	extra := put(t, blobs, []byte("a new blob, not a CAR"))
	blobs.gets.Store(0)
	st := refresh(t, c, blobs)
	if st.Dropped != 1 || st.Read != 1 || blobs.gets.Load() != 1 {
		t.Fatalf("after a delete and a put: %+v, %d reads", st, blobs.gets.Load())
	}
	if _, ok, _ := c.Blob(ctx, gone.Digest); ok {
		t.Error("a deleted blob is still catalogued")
	}
	for _, l := range must(c.Find(ctx, someSlice)) {
		if bytes.Equal(l.Index, gone.Digest) {
			t.Errorf("a slice of a deleted index is still found: %+v", l)
		}
	}
	if b, ok, _ := c.Blob(ctx, extra); !ok || b.Kind != carblob.Other {
		t.Errorf("the new blob: %+v %v", b, ok)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A shard's block table comes from one scan, then from the catalogue;
// its blocks are then found in it.
func TestBlocks(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	c, err := catalog.Open(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	refresh(t, c, n.blobs)
	shard := n.uploads[0].Shards[1]
	n.blobs.gets.Store(0)
	first, err := c.Blocks(ctx, n.blobs, shard.Digest)
	if err != nil || len(first) == 0 || n.blobs.gets.Load() != 1 {
		t.Fatalf("scan: %d blocks, %v, %d reads", len(first), err, n.blobs.gets.Load())
	}
	for _, b := range first {
		got := shard.Data[b.Offset : b.Offset+b.Length]
		if sum, _ := b.CID.Prefix().Sum(got); !sum.Equals(b.CID) {
			t.Fatalf("block %s: its place holds other bytes", b.CID)
		}
	}
	second, err := c.Blocks(ctx, n.blobs, shard.Digest)
	if err != nil || len(second) != len(first) || n.blobs.gets.Load() != 1 {
		t.Fatalf("cached: %d blocks, %v, %d reads", len(second), err, n.blobs.gets.Load())
	}
	if _, err := c.Blocks(ctx, n.blobs, must(mh.Sum(n.other[0], mh.SHA2_256, -1))); !errors.Is(err, catalog.ErrNotCAR) {
		t.Errorf("blocks of a blob that is no CAR: %v", err)
	}
}

// One process refreshes at a time; the others read meanwhile.
func TestOneWriter(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	dir := t.TempDir()
	a, err := catalog.Open(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	refresh(t, a, n.blobs)
	b, err := catalog.Open(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	hold := catalog.HoldWriterForTest(a)
	_, err = b.Refresh(ctx, n.blobs, catalog.Options{Log: quiet()})
	if !errors.Is(err, catalog.ErrBusy) {
		t.Fatalf("a second writer: %v, want ErrBusy", err)
	}
	shard := n.uploads[1].Shards[0]
	if _, ok, err := b.Blob(ctx, shard.Digest); !ok || err != nil {
		t.Fatalf("a reader while another writes: %v %v", ok, err)
	}
	hold()
	if _, err := b.Refresh(ctx, n.blobs, catalog.Options{Log: quiet()}); err != nil {
		t.Fatalf("after the writer let go: %v", err)
	}
}

// A reader opens only a catalogue that exists, answers while a writer
// is in the middle of a batch, and cannot write.
func TestReader(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := catalog.OpenReader(dir, "x"); !errors.Is(err, catalog.ErrNotBuilt) {
		t.Fatalf("no catalogue yet: %v, want ErrNotBuilt", err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("a reader of nothing made %d files", len(files))
	}
	n := newNode(t)
	w, err := catalog.Open(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	refresh(t, w, n.blobs)
	commit := catalog.WriteForTest(w)
	r, err := catalog.OpenReader(dir, "x")
	if err != nil {
		t.Fatalf("open while a write is under way: %v", err)
	}
	defer r.Close()
	shard := n.uploads[0].Shards[0]
	locs, err := r.Find(ctx, n.dag.Root.Hash())
	if err != nil || len(locs) == 0 {
		t.Fatalf("find while a write is under way: %v %v", locs, err)
	}
	if _, ok, err := r.Blob(ctx, shard.Digest); !ok || err != nil {
		t.Fatalf("blob while a write is under way: %v %v", ok, err)
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Refresh(ctx, n.blobs, catalog.Options{Log: quiet(), Rebuild: true}); err == nil {
		t.Fatal("a reader refreshed the catalogue")
	}
	if _, ok, err := w.Blob(ctx, shard.Digest); !ok || err != nil {
		t.Fatalf("the catalogue after a reader's refused refresh: %v %v", ok, err)
	}
}

// Bad input is shown as what it is, never a crash: a truncated CAR is a
// shard whose scan ends early with the blocks before the cut; a header
// that lies about its length is other; an index whose shard blocks are
// missing is a shard (its first block said index, the rest is no index);
// an index naming a slice past its shard's end is catalogued as it says.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	blobs := &counting{Store: blobstore.New(memory.New(), blobstore.S3{})}
	good := n.uploads[0].Shards[0].Data
	truncated := put(t, blobs, good[:len(good)-100])
	lying := put(t, blobs, append([]byte{0xff, 0x7f}, good[2:500]...))
	ixData := n.uploads[0].Indexes[0].Data
	rootEnd := indexRootEnd(t, ixData)
	brokenIndex := put(t, blobs, ixData[:rootEnd]) // the root block alone
	c, err := catalog.Open(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := refresh(t, c, blobs)
	if st.Failed != 0 {
		t.Fatalf("%+v", st)
	}
	for _, w := range []struct {
		d    mh.Multihash
		kind carblob.Kind
	}{{truncated, carblob.Shard}, {lying, carblob.Other}, {brokenIndex, carblob.Shard}} {
		if b, ok, _ := c.Blob(ctx, w.d); !ok || b.Kind != w.kind {
			t.Errorf("%s: %v, want %v", blobstore.Name(w.d), b.Kind, w.kind)
		}
	}
	blocks, err := c.Blocks(ctx, blobs, truncated)
	if err == nil || len(blocks) == 0 {
		t.Errorf("a truncated CAR: %d blocks, %v; want those before the cut and an error", len(blocks), err)
	}
}

// indexRootEnd is where an index CAR's first section (its root block)
// ends.
func indexRootEnd(t *testing.T, data []byte) int {
	t.Helper()
	h, err := carblob.Classify(data, int64(len(data)))
	if err != nil || h.Kind != carblob.Index {
		t.Fatalf("not an index: %v %v", h.Kind, err)
	}
	end := 0
	err = carblob.Scan(bytes.NewReader(data), func(b carblob.Block) error {
		if end == 0 {
			end = int(b.Offset + b.Length)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return end
}

// BenchmarkFind looks one block up in a catalogue of the test node.
func BenchmarkFind(b *testing.B) {
	t := &testing.T{}
	n := newNode(t)
	c, err := catalog.Open(b.TempDir(), "x")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Refresh(context.Background(), n.blobs, catalog.Options{Log: quiet()}); err != nil {
		b.Fatal(err)
	}
	var digest mh.Multihash
	for d := range n.uploads[0].Slices {
		digest = mh.Multihash(d)
		break
	}
	b.ResetTimer()
	for b.Loop() {
		if locs, err := c.Find(context.Background(), digest); err != nil || len(locs) == 0 {
			b.Fatal(err)
		}
	}
}
