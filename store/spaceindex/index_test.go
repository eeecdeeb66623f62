package spaceindex

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/testsupport/pirinode"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/memory"
	"github.com/storacha/storefs/store/recordkind"
)

// countingGets counts the records the index reads.
type countingGets struct {
	objectstore.Store
	gets atomic.Int64
}

func (c *countingGets) Get(ctx context.Context, key string, opts ...objectstore.GetOption) (objectstore.Object, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key, opts...)
}

type spacesNode struct {
	index   *Index
	blobs   blobstore.Store
	accepts *acceptancestore.Store
	objects *countingGets
}

func newSpacesNode(t *testing.T) *spacesNode {
	t.Helper()
	n := &spacesNode{blobs: blobstore.New(memory.New(), blobstore.S3{}), objects: &countingGets{Store: memory.New()}}
	n.accepts = acceptancestore.New(n.objects, recordkind.S3)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	n.index = New(ctx, n.accepts, n.blobs, slog.New(slog.DiscardHandler), nil)
	return n
}

func (n *spacesNode) store(t *testing.T, data string) mh.Multihash {
	t.Helper()
	d := pirinode.Digest([]byte(data))
	if err := n.blobs.Put(context.Background(), d, int64(len(data)), strings.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return d
}

func (n *spacesNode) accept(t *testing.T, d mh.Multihash, space string) {
	t.Helper()
	a := acceptancestore.Acceptance{Space: space, Digest: d, Size: 1, ExecutedAt: 1764000000, Cause: ipldutil.CBORCID(d)}
	if err := n.accepts.Put(context.Background(), a.ID(), a); err != nil {
		t.Fatal(err)
	}
}

// rawAccept writes an acceptance record under a backend key of its own.
func (n *spacesNode) rawAccept(t *testing.T, key string, d mh.Multihash, space string) {
	t.Helper()
	data, err := acceptancestore.Codec{}.Encode(acceptancestore.Acceptance{Space: space, Digest: d, Size: 1, ExecutedAt: 1764000000, Cause: ipldutil.CBORCID(d)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.objects.Put(context.Background(), key, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func did(seed byte) string {
	s, _ := pirinode.SpaceDID(seed)
	return s
}

func spaceNames(t *Table, space string) []string {
	lo, hi, _ := t.Of(space)
	var out []string
	for i := lo; i < hi; i++ {
		out = append(out, blobstore.Name(t.Digest(i)))
	}
	return out
}

// TestSpacesIndex: the index comes from the acceptances' keys, reading
// only the records whose key does not say blob and space; it leaves out
// blobs not stored, holds a space's blob once however often accepted,
// and counts the spaces of each blob.
func TestSpacesIndex(t *testing.T) {
	n := newSpacesNode(t)
	a, b, c := did(1), did(2), did(3)
	var both, onlyA, odd []mh.Multihash
	for i := range 40 {
		d := n.store(t, "blob "+string(rune('a'+i)))
		switch {
		case i%4 == 0:
			n.accept(t, d, a)
			n.accept(t, d, b)
			both = append(both, d)
		case i%4 == 1:
			n.accept(t, d, a)
			onlyA = append(onlyA, d)
		case i%4 == 2: // a key of another shape: the record says
			n.rawAccept(t, "odd/"+pirinode.B32(d)+".cbor", d, b)
			odd = append(odd, d)
		}
	}
	n.accept(t, both[0], a) // again, and under an odd key too
	n.rawAccept(t, "odd/again.cbor", both[0], a)
	ghost := pirinode.Digest([]byte("accepted, never stored"))
	n.accept(t, ghost, c)
	n.accept(t, ghost, a)

	n.objects.gets.Store(0)
	tab, err := n.index.Table(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// genericstore reads each odd key once to decide on it, the index
	// once more; the other keys are never read.
	if got, want := n.objects.gets.Load(), int64(2*(len(odd)+1)); got != want {
		t.Errorf("%d records read, want %d (the odd keys' only)", got, want)
	}
	if want := slices.Sorted(slices.Values([]string{a, b})); !slices.Equal(tab.spaces, want) {
		t.Errorf("spaces %v, want %v (c accepted only a blob not stored)", tab.spaces, want)
	}
	byDigest := func(ds ...[]mh.Multihash) []string {
		all := slices.Concat(ds...)
		slices.SortFunc(all, func(x, y mh.Multihash) int { return bytes.Compare(x, y) })
		var out []string
		for _, d := range all {
			out = append(out, blobstore.Name(d))
		}
		return out
	}
	if got, want := spaceNames(tab, a), byDigest(both, onlyA); !slices.Equal(got, want) {
		t.Errorf("space a: %v, want %v", got, want)
	}
	if got, want := spaceNames(tab, b), byDigest(both, odd); !slices.Equal(got, want) {
		t.Errorf("space b: %v, want %v", got, want)
	}
	for _, d := range both {
		if got := tab.Links(d); got != 2 {
			t.Errorf("%s: %d links, want 2", blobstore.Name(d), got)
		}
	}
	for _, d := range slices.Concat(onlyA, odd) {
		if got := tab.Links(d); got != 1 {
			t.Errorf("%s: %d links, want 1", blobstore.Name(d), got)
		}
	}
	if got := tab.Links(ghost); got != 0 {
		t.Errorf("the blob not stored: %d links", got)
	}
	name := blobstore.Name(onlyA[0])
	if i, ok := tab.Find(a, name); !ok || !bytes.Equal(tab.Digest(i), onlyA[0]) || tab.Size(i) != int64(len("blob b")) {
		t.Errorf("find %s in a: row %d, %v", name, i, ok)
	}
	for _, miss := range [][2]string{{b, name}, {c, blobstore.Name(ghost)}, {a, strings.ToUpper(name)}, {a, "nonsense"}, {"did:key:zNone", name}} {
		if _, ok := tab.Find(miss[0], miss[1]); ok {
			t.Errorf("find %q in %q: found", miss[1], miss[0])
		}
	}
}

// TestSpacesIndexLifetime: an old index keeps serving while its
// successor is built, an unused one goes, and so does one whose space
// directories the kernel forgot.
func TestSpacesIndexLifetime(t *testing.T) {
	n := newSpacesNode(t)
	x := n.index
	first := n.store(t, "first")
	n.accept(t, first, did(1))
	ctx := context.Background()
	old, err := x.Table(ctx)
	if err != nil || old.Pairs() != 1 {
		t.Fatalf("index: %v pairs, %v", old, err)
	}
	second := n.store(t, "second")
	n.accept(t, second, did(1))
	if t2, _ := x.Table(ctx); t2 != old {
		t.Fatal("a fresh index was rebuilt")
	}

	// An index that took long to build is kept longer.
	x.mu.Lock()
	x.built, x.took = x.built.Add(-3*spacesTTL/2), spacesTTL/10
	x.mu.Unlock()
	t2, _ := x.Table(ctx)
	x.mu.Lock()
	rebuilt := x.building != nil
	x.mu.Unlock()
	if t2 != old || rebuilt {
		t.Fatal("an index 90 s old that took 6 s to build was rebuilt")
	}
	x.mu.Lock()
	x.took = 0
	x.mu.Unlock()
	if t2, err := x.Table(ctx); err != nil || t2 != old {
		t.Fatalf("an old index was not served while rebuilt: %v", err)
	}
	x.mu.Lock()
	b := x.building
	x.mu.Unlock()
	if b == nil {
		t.Fatal("no rebuild under way")
	}
	<-b.done
	if t2, _ := x.Table(ctx); t2 == old || t2.Pairs() != 2 {
		t.Fatalf("after the rebuild: %d pairs", t2.Pairs())
	}

	x.expire() // used just now: kept
	if x.Loaded() == nil {
		t.Fatal("an index in use was dropped")
	}
	x.mu.Lock()
	x.used = time.Now().Add(-spacesTTL)
	x.mu.Unlock()
	x.expire()
	if x.Loaded() != nil {
		t.Fatal("an unused index was kept")
	}

	if _, err := x.Table(ctx); err != nil {
		t.Fatal(err)
	}
	x.Hold()
	x.Hold()
	x.Release()
	if x.Loaded() == nil {
		t.Fatal("dropped while the kernel holds a space directory")
	}
	x.Release()
	if x.Loaded() != nil {
		t.Fatal("kept after the kernel forgot every space directory")
	}
}
