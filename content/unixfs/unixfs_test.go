package unixfs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/storacha/storefs/content/unixfs"
	"github.com/storacha/storefs/internal/testsupport/uploads"
)

// memBlocks serves a DAG's blocks and counts what it is asked for.
type memBlocks struct {
	mu     sync.Mutex
	blocks map[cid.Cid][]byte
	gets   map[cid.Cid]int
}

func newMem(d *uploads.DAG) *memBlocks {
	m := &memBlocks{blocks: map[cid.Cid][]byte{}, gets: map[cid.Cid]int{}}
	for _, b := range d.Blocks {
		m.blocks[b.CID] = b.Data
	}
	return m
}

func (m *memBlocks) Block(ctx context.Context, c cid.Cid) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets[c]++
	b, ok := m.blocks[c]
	if !ok {
		return nil, fmt.Errorf("block %s: not here", c)
	}
	return b, nil
}

func (m *memBlocks) total() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, v := range m.gets {
		n += v
	}
	return n
}

func random(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func importDAG(t testing.TB, entries []uploads.Entry, o uploads.Options) *uploads.DAG {
	t.Helper()
	d, err := uploads.Import(entries, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func open(t testing.TB, g unixfs.Blocks, c cid.Cid) *unixfs.File {
	t.Helper()
	n, err := unixfs.Load(context.Background(), g, c)
	if err != nil {
		t.Fatal(err)
	}
	f, err := unixfs.NewFile(g, n)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Files of every layout read back whole and at random offsets.
func TestFiles(t *testing.T) {
	ctx := context.Background()
	sizes := []int{0, 1, 1000, 4096, 65536, 65537, 300_000, 1 << 20}
	layouts := map[string]uploads.Options{
		"balanced raw leaves":    {Chunk: 4096, MaxLinks: 4},
		"balanced dag-pb leaves": {Chunk: 4096, MaxLinks: 4, PBLeaves: true},
		"trickle raw leaves":     {Chunk: 4096, MaxLinks: 4, Trickle: true},
		"trickle dag-pb leaves":  {Chunk: 3000, MaxLinks: 3, Trickle: true, PBLeaves: true},
		"wide":                   {Chunk: 1000, MaxLinks: 174},
	}
	for name, o := range layouts {
		t.Run(name, func(t *testing.T) {
			var entries []uploads.Entry
			for i, n := range sizes {
				entries = append(entries, uploads.Entry{Path: fmt.Sprintf("f%d", i), Data: random(n, byte(i))})
			}
			d := importDAG(t, entries, o)
			g := newMem(d)
			for i, e := range entries {
				f := open(t, g, d.Files[e.Path])
				if f.Size() != uint64(len(e.Data)) {
					t.Fatalf("%s: size %d, want %d", e.Path, f.Size(), len(e.Data))
				}
				var out bytes.Buffer
				if _, err := f.WriteTo(ctx, &out, 64<<10); err != nil {
					t.Fatalf("%s: %v", e.Path, err)
				}
				if sha256.Sum256(out.Bytes()) != sha256.Sum256(e.Data) {
					t.Fatalf("%s: bytes differ", e.Path)
				}
				r := f.Reader(0)
				rng := rand.New(rand.NewPCG(uint64(i), 1))
				for range 50 {
					if len(e.Data) == 0 {
						break
					}
					off := rng.IntN(len(e.Data))
					buf := make([]byte, rng.IntN(10000)+1)
					n, err := r.ReadAt(ctx, buf, int64(off))
					want := min(len(buf), len(e.Data)-off)
					if n != want || (err != nil && err != io.EOF) || !bytes.Equal(buf[:n], e.Data[off:off+n]) {
						t.Fatalf("%s: ReadAt(%d, %d) = %d, %v; want %d", e.Path, len(buf), off, n, err, want)
					}
				}
				n, err := r.ReadAt(ctx, make([]byte, 10), int64(len(e.Data)))
				if n != 0 || err != io.EOF {
					t.Fatalf("%s: read at the end: %d %v", e.Path, n, err)
				}
				r.Close()
			}
		})
	}
}

// A random read fetches the leaf it needs and the inner nodes above it,
// nothing before it; a sequential reader fetches ahead.
func TestSeekAndReadAhead(t *testing.T) {
	ctx := context.Background()
	data := random(4<<20, 9)
	d := importDAG(t, []uploads.Entry{{Path: "big", Data: data}}, uploads.Options{Chunk: 64 << 10, MaxLinks: 8})
	g := newMem(d)
	f := open(t, g, d.Files["big"])
	r := f.Reader(0)
	defer r.Close()
	before := g.total()
	buf := make([]byte, 4096)
	if _, err := r.ReadAt(ctx, buf, 3<<20+12345); err != nil {
		t.Fatal(err)
	}
	// 64 leaves under 8-link nodes: the root (read at open), one inner
	// node, one leaf.
	if got := g.total() - before; got != 2 {
		t.Fatalf("a random read fetched %d blocks, want 2 (an inner node, a leaf)", got)
	}
	if !bytes.Equal(buf, data[3<<20+12345:][:4096]) {
		t.Fatal("bytes differ")
	}

	ahead := f.Reader(1 << 20)
	defer ahead.Close()
	for off := 0; off < 512<<10; off += 128 << 10 {
		if _, err := ahead.ReadAt(ctx, make([]byte, 128<<10), int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	// The fourth read of 128 KiB in a row follows 384 KiB read in a row:
	// it sets twice that ahead in flight, past 1.1 MiB, and never more
	// than the limit (1 MiB) past the reads.
	leafAt := func(off int) cid.Cid {
		// the leaf of byte off: leaves are in file order among the blocks
		i := 0
		for _, b := range d.Blocks {
			if b.CID.Prefix().Codec == cid.Raw {
				if i == off/(64<<10) {
					return b.CID
				}
				i++
			}
		}
		t.Fatalf("no leaf at %d", off)
		return cid.Undef
	}
	deadline := 0
	for !fetched(g, leafAt(1100<<10)) {
		if deadline++; deadline > 1000 {
			t.Fatal("read-ahead did not fetch the leaf 0.6 MiB past the reads")
		}
		runtimeGosched()
	}
	if fetched(g, leafAt(2<<20)) {
		t.Fatal("read-ahead went past its limit")
	}
}

func fetched(g *memBlocks, c cid.Cid) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gets[c] > 0
}

// Directories: a plain one, a HAMT of hundreds of entries, listed
// without fetching the entries' blocks; lookups, symlinks, paths.
func TestDirs(t *testing.T) {
	ctx := context.Background()
	entries := []uploads.Entry{{Path: "a/b/c.txt", Data: []byte("c")}, {Path: "a/link", Symlink: "b/c.txt"}}
	var many []string
	for i := range 600 {
		name := fmt.Sprintf("h/entry-%04d", i)
		many = append(many, "entry-"+fmt.Sprintf("%04d", i))
		entries = append(entries, uploads.Entry{Path: name, Data: []byte(name)})
	}
	d := importDAG(t, entries, uploads.Options{HAMTAbove: 100})
	g := newMem(d)
	root, err := unixfs.Load(ctx, g, d.Root)
	if err != nil {
		t.Fatal(err)
	}
	h, err := unixfs.Resolve(ctx, g, d.Root, []string{"h"})
	if err != nil || h.Kind != unixfs.KindHAMT {
		t.Fatalf("h: %v %v", h, err)
	}
	before := g.total()
	var names []string
	if err := unixfs.List(ctx, g, h, func(e unixfs.Entry) bool {
		names = append(names, e.Name)
		if e.CID != d.Files["h/"+e.Name] {
			t.Errorf("%s: CID %s, want %s", e.Name, e.CID, d.Files["h/"+e.Name])
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if !slices.Equal(names, many) {
		t.Fatalf("HAMT listed %d names, want %d", len(names), len(many))
	}
	for c, n := range g.gets {
		if c.Prefix().Codec == cid.Raw && n > 0 {
			t.Fatalf("listing fetched an entry's block %s", c)
		}
	}
	shards := g.total() - before
	for _, name := range []string{"entry-0000", "entry-0599", "entry-0333"} {
		e, err := unixfs.Lookup(ctx, g, h, name)
		if err != nil || e.CID != d.Files["h/"+name] {
			t.Fatalf("lookup %s: %v %v", name, e, err)
		}
	}
	if _, err := unixfs.Lookup(ctx, g, h, "entry-0600"); !errors.Is(err, unixfs.ErrNotFound) {
		t.Fatalf("lookup of a name not there: %v", err)
	}
	t.Logf("HAMT of 600: %d shard blocks listed", shards)

	var top []string
	unixfs.List(ctx, g, root, func(e unixfs.Entry) bool { top = append(top, e.Name); return true })
	if !slices.Equal(top, []string{"a", "h"}) {
		t.Fatalf("root lists %v", top)
	}
	l, err := unixfs.Resolve(ctx, g, d.Root, []string{"a", "link"})
	if err != nil || l.Kind != unixfs.KindSymlink || string(l.Data) != "b/c.txt" {
		t.Fatalf("symlink: %+v %v", l, err)
	}
	if _, err := unixfs.Resolve(ctx, g, d.Root, []string{"a", "b", "c.txt", "x"}); !errors.Is(err, unixfs.ErrNotDir) {
		t.Fatalf("a path through a file: %v", err)
	}
	if _, err := unixfs.Resolve(ctx, g, d.Root, []string{"a", "nope"}); !errors.Is(err, unixfs.ErrNotFound) {
		t.Fatalf("a name not there: %v", err)
	}
	if !strings.Contains(root.Kind.String(), "directory") {
		t.Fatal(root.Kind)
	}
}

func runtimeGosched() { runtime.Gosched(); time.Sleep(time.Millisecond) }

// The kernel sends a sequential reader's reads several at once, in any
// order: they stay one run, and no leaf is fetched twice.
func TestOutOfOrderReads(t *testing.T) {
	ctx := context.Background()
	data := random(8<<20, 4)
	d := importDAG(t, []uploads.Entry{{Path: "f", Data: data}}, uploads.Options{Chunk: 64 << 10, MaxLinks: 16})
	g := newMem(d)
	f := open(t, g, d.Files["f"])
	r := f.Reader(1 << 20)
	defer r.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	const chunk = 128 << 10
	for batch := 0; batch < len(data); batch += 8 * chunk {
		offs := []int{}
		for o := batch; o < min(batch+8*chunk, len(data)); o += chunk {
			offs = append(offs, o)
		}
		rng.Shuffle(len(offs), func(i, j int) { offs[i], offs[j] = offs[j], offs[i] })
		var wg sync.WaitGroup
		for _, o := range offs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, chunk)
				n, err := r.ReadAt(ctx, buf, int64(o))
				if err != nil || !bytes.Equal(buf[:n], data[o:o+n]) {
					t.Errorf("read at %d: %d, %v", o, n, err)
				}
			}()
		}
		wg.Wait()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for c, n := range g.gets {
		if n > 1 {
			t.Fatalf("block %s fetched %d times", c, n)
		}
	}
}
