package fusefs

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/objectstore"
)

// spacesTTL is how old the index of acceptances may grow before a use
// rebuilds it (in the background: uses meanwhile keep the old one), and
// how long an unused index is kept.
const spacesTTL = time.Minute

// rebuildCost scales the index's age limit by its build time, so that
// rebuilds take at most 1/rebuildCost of the time it is in use: a
// million acceptances take ~6 s of CPU to index, and a walk of them
// longer than a minute paid a rebuild, with two indexes in memory.
const rebuildCost = 20

// logGhosts is how many accepted blobs that are not stored a build
// names in the log; the rest are counted.
const logGhosts = 10

// spaceIndex is /spaces: which space accepted which stored blob. It is
// built from the acceptance store's keys, "<blob>/<space DID>", which
// say both without reading a record (on S3 a record is a request, and a
// node may hold millions), joined with one blob listing, so that an
// accepted blob the node does not store is left out (and logged:
// `storefs check` reports it as missing-blob). Built at first use.
//
// The index is dropped once nothing used it for spacesTTL, or once the
// kernel holds no /spaces/<space> directory: after a walk the memory
// comes back.
type spaceIndex struct {
	root     *Root
	store    *acceptancestore.Store
	mu       sync.Mutex
	cur      *spaceTable
	built    time.Time     // when cur's build began
	took     time.Duration // how long cur's build took
	used     time.Time     // cur's last use
	building *spaceBuild   // the build under way, nil: none
	idle     *time.Timer
	dirs     int // /spaces/<space> inodes the kernel holds
}

// spaceBuild is one build, which every use waiting for it shares.
type spaceBuild struct {
	done chan struct{}
	t    *spaceTable
	err  error
}

// table returns the index, building it when there is none. An old
// index is served while its successor is built.
func (x *spaceIndex) table(ctx context.Context) (*spaceTable, error) {
	x.mu.Lock()
	x.used = time.Now()
	if t := x.cur; t != nil {
		if time.Since(x.built) >= max(spacesTTL, rebuildCost*x.took) {
			x.rebuild()
		}
		x.mu.Unlock()
		return t, nil
	}
	b := x.rebuild()
	x.mu.Unlock()
	select {
	case <-b.done:
		return b.t, b.err
	case <-ctx.Done():
		return nil, fmt.Errorf("index /spaces: %w", ctx.Err())
	}
}

// rebuild starts a build unless one is under way. x.mu is held.
func (x *spaceIndex) rebuild() *spaceBuild {
	if x.building != nil {
		return x.building
	}
	b := &spaceBuild{done: make(chan struct{})}
	x.building = b
	go func() {
		began := time.Now()
		// The mount's context, not the request's: later uses share the
		// build, and each request is bounded by its backend's own bound.
		b.t, b.err = x.build(x.root.ctx)
		x.mu.Lock()
		x.building = nil
		switch {
		case b.err == nil:
			x.cur, x.built, x.took = b.t, began, time.Since(began)
			x.keepWhileUsed()
		case x.cur != nil:
			x.root.log.Warn("rebuild /spaces; serving the index of an earlier listing", "built", x.built.Format(time.RFC3339), "err", b.err)
		}
		x.mu.Unlock()
		close(b.done)
	}()
	return b
}

// keepWhileUsed arms the drop of an unused index. x.mu is held.
func (x *spaceIndex) keepWhileUsed() {
	if x.idle == nil {
		x.idle = time.AfterFunc(spacesTTL, x.expire)
		return
	}
	x.idle.Reset(spacesTTL)
}

func (x *spaceIndex) expire() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur == nil {
		return
	}
	if idle := time.Since(x.used); idle < spacesTTL {
		x.idle.Reset(spacesTTL - idle)
		return
	}
	x.drop()
}

// drop lets the index go, and collects soon: an idle daemon may not
// collect for minutes, and the index of a million pairs is ~80 MB.
// x.mu is held.
func (x *spaceIndex) drop() {
	if x.cur != nil {
		x.cur = nil
		x.root.collectSoon()
	}
}

// heldDir and forgotDir count the /spaces/<space> inodes the kernel
// holds; when it holds none, the index goes (a use builds it again).
func (x *spaceIndex) heldDir() {
	x.mu.Lock()
	x.dirs++
	x.mu.Unlock()
}

func (x *spaceIndex) forgotDir() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.dirs > 0 {
		x.dirs--
	}
	if x.dirs == 0 {
		x.drop()
	}
}

// loaded is the index if there is one, without building one: a blob's
// link count comes from it, and a listing of /blobs must not pay for
// an index of every acceptance.
func (x *spaceIndex) loaded() *spaceTable {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cur
}

func (x *spaceIndex) build(ctx context.Context) (*spaceTable, error) {
	b := tableBuilder{spaceIDs: map[string]uint32{}}
	for e, err := range x.store.List(ctx, "") {
		if err != nil {
			return nil, err
		}
		name, space, _ := strings.Cut(e.ID, "/")
		if !strings.HasPrefix(e.ID, genericstore.AtKey) && strings.HasPrefix(space, "did:") && b.add(name, space) {
			continue
		}
		// A key of another shape (or whose second part is a cause, not a
		// space): only the record says which blob and space.
		a, err := x.store.Get(ctx, e.ID)
		switch {
		case errors.Is(err, genericstore.ErrCorrupt):
			x.root.log.Error("an acceptance does not decode; left out of /spaces", "key", e.ID, "err", err)
			continue
		case errors.Is(err, objectstore.ErrNotExist): // deleted since listed
			continue
		case err != nil:
			return nil, err
		}
		b.addDigest(a.Digest, a.Space)
	}
	if err := b.join(ctx, x.root); err != nil {
		return nil, err
	}
	return b.seal(x.root), nil
}

// spaceTable is the index: each (space, blob) pair the acceptances name
// and the store holds, one row of 40 bytes, sorted by space and then by
// digest, with the digests packed in one arena. About 80 bytes a pair
// in all (BenchmarkSpacesIndex); Go maps of names took ~450.
type spaceTable struct {
	spaces   []string // sorted
	starts   []uint32 // spaces[i]'s rows are rows[starts[i]:starts[i+1]]
	rows     []spaceRow
	byDigest []uint32 // the rows in digest order: link counts
	arena    []byte
}

type spaceRow struct {
	// head is the digest's first 8 bytes past its multihash prefix,
	// big-endian: most comparisons end there, without a cache miss in
	// the arena.
	head   uint64
	off    uint32 // of the digest in the arena
	n      uint16 // its length
	stored bool   // while built: the blob listing has it
	space  uint32 // the space's number while built, its rank once sealed
	size   int64  // from the listing; 0 where it has none (local files)
	mtime  int64  // from the listing, unix nanoseconds; 0: none
}

// headOf is a digest's spaceRow.head.
func headOf(d []byte) uint64 {
	var h [8]byte
	if len(d) > 2 {
		copy(h[:], d[2:])
	}
	return binary.BigEndian.Uint64(h[:])
}

// compareDigest orders a row against a digest (its head computed).
func compareDigest(arena []byte, r spaceRow, d []byte, head uint64) int {
	if c := cmp.Compare(r.head, head); c != 0 {
		return c
	}
	return bytes.Compare(arena[r.off:r.off+uint32(r.n)], d)
}

// searchDigest is the first of rows (in digest order) at or after d.
func searchDigest(arena []byte, rows []spaceRow, d []byte) int {
	head := headOf(d)
	i, _ := slices.BinarySearchFunc(rows, d, func(r spaceRow, d []byte) int { return compareDigest(arena, r, d, head) })
	return i
}

// tableBuilder gathers the pairs, joins them with the blob listing and
// seals them into a spaceTable.
type tableBuilder struct {
	spaceIDs map[string]uint32
	rows     []spaceRow
	arena    []byte
}

// add adds the pair of a canonical blob name; false: the name is not one.
func (b *tableBuilder) add(name, space string) bool {
	off := len(b.arena)
	arena, ok := blobstore.AppendDigest(b.arena, name)
	if !ok {
		return false
	}
	b.arena = arena
	b.row(off, space)
	return true
}

func (b *tableBuilder) addDigest(digest mh.Multihash, space string) {
	off := len(b.arena)
	b.arena = append(b.arena, digest...)
	b.row(off, space)
}

func (b *tableBuilder) row(off int, space string) {
	id, ok := b.spaceIDs[space]
	if !ok {
		id = uint32(len(b.spaceIDs))
		b.spaceIDs[strings.Clone(space)] = id
	}
	d := b.arena[off:]
	b.rows = append(b.rows, spaceRow{head: headOf(d), off: uint32(off), n: uint16(len(d)), space: id})
}

func (b *tableBuilder) digest(r spaceRow) []byte { return b.arena[r.off : r.off+uint32(r.n)] }

// join sorts the pairs by digest and marks those whose blob the store
// holds, with the listing's size and time, from one listing of the
// blobs.
func (b *tableBuilder) join(ctx context.Context, r *Root) error {
	slices.SortFunc(b.rows, func(p, q spaceRow) int { return compareDigest(b.arena, p, b.digest(q), q.head) })
	mark := func(d []byte, size, mtime int64) {
		for i := searchDigest(b.arena, b.rows, d); i < len(b.rows) && bytes.Equal(b.digest(b.rows[i]), d); i++ {
			b.rows[i].stored, b.rows[i].size, b.rows[i].mtime = true, size, mtime
		}
	}
	if files := r.files; files != nil {
		var d []byte
		for info, err := range files.ListNames(ctx, nil) {
			if err != nil {
				return err
			}
			var ok bool
			if d, ok = blobstore.AppendDigest(d[:0], info.Key); ok {
				mark(d, 0, 0) // a lookup stats the file
			}
		}
		return nil
	}
	for info, err := range r.stores.Blobs.List(ctx) {
		if err != nil {
			return err
		}
		mark(info.Digest, info.Size, unixNano(info.ModTime))
	}
	return nil
}

// seal leaves out (and logs) the pairs of blobs not stored and packs
// the rest by space, keeping digest order within each, without a
// second sort. The old arena goes before the rows are placed, so the
// peak is the old rows and one arena more.
func (b *tableBuilder) seal(r *Root) *spaceTable {
	names := make([]string, len(b.spaceIDs))
	for s, id := range b.spaceIDs {
		names[id] = s
	}
	byName := make([]uint32, len(names)) // rank -> space number
	for i := range byName {
		byName[i] = uint32(i)
	}
	slices.SortFunc(byName, func(p, q uint32) int { return cmp.Compare(names[p], names[q]) })
	rank := make([]uint32, len(names))
	for i, id := range byName {
		rank[id] = uint32(i)
	}

	// In digest order: drop the blobs not stored, and a space's second
	// pair of one blob (an acceptance under two keys).
	kept, ghosts, size := b.rows[:0], 0, 0
	for _, row := range b.rows {
		if !row.stored {
			if ghosts < logGhosts {
				r.log.Warn("an accepted blob is not stored; left out of /spaces (storefs check: missing-blob)", "blob", blobstore.Name(b.digest(row)), "space", names[row.space])
			}
			ghosts++
			continue
		}
		row.space = rank[row.space]
		dup := false
		for j := len(kept) - 1; j >= 0 && !dup && bytes.Equal(b.digest(kept[j]), b.digest(row)); j-- {
			dup = kept[j].space == row.space
		}
		if dup {
			continue
		}
		kept = append(kept, row)
		size += int(row.n)
	}
	if ghosts > logGhosts {
		r.log.Warn("more accepted blobs are not stored; left out of /spaces (storefs check: missing-blob)", "count", ghosts-logGhosts)
	}

	t := &spaceTable{arena: make([]byte, 0, size)}
	for i, row := range kept {
		kept[i].off = uint32(len(t.arena))
		t.arena = append(t.arena, b.digest(row)...)
	}
	b.arena = nil

	count := make([]uint32, len(names)+1)
	for _, row := range kept {
		count[row.space+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	for i, id := range byName {
		if count[i+1] > count[i] {
			t.spaces = append(t.spaces, names[id])
			t.starts = append(t.starts, count[i])
		}
	}
	t.starts = append(t.starts, uint32(len(kept)))
	t.rows, t.byDigest = make([]spaceRow, len(kept)), make([]uint32, len(kept))
	next := count[:len(names)]
	for k, row := range kept {
		i := next[row.space]
		next[row.space]++
		t.rows[i], t.byDigest[k] = row, i
	}
	b.rows = nil
	return t
}

func (t *spaceTable) digest(i uint32) []byte {
	r := t.rows[i]
	return t.arena[r.off : r.off+uint32(r.n)]
}

func (t *spaceTable) pairs() int { return len(t.rows) }

// of is the range of rows of space; ok is false for a space that
// accepted no stored blob.
func (t *spaceTable) of(space string) (lo, hi uint32, ok bool) {
	i, ok := slices.BinarySearch(t.spaces, space)
	if !ok {
		return 0, 0, false
	}
	return t.starts[i], t.starts[i+1], true
}

// find is the row of a blob, by its canonical name, in space.
func (t *spaceTable) find(space, name string) (uint32, bool) {
	lo, hi, ok := t.of(space)
	if !ok {
		return 0, false
	}
	var buf [64]byte
	d, ok := blobstore.AppendDigest(buf[:0], name)
	if !ok {
		return 0, false
	}
	i := lo + uint32(searchDigest(t.arena, t.rows[lo:hi], d))
	return i, i < hi && bytes.Equal(t.digest(i), d)
}

// links is how many spaces accepted the blob.
func (t *spaceTable) links(digest []byte) uint32 {
	head := headOf(digest)
	i, _ := slices.BinarySearchFunc(t.byDigest, digest, func(row uint32, d []byte) int {
		return compareDigest(t.arena, t.rows[row], d, head)
	})
	n := uint32(0)
	for ; i < len(t.byDigest) && bytes.Equal(t.digest(t.byDigest[i]), digest); i++ {
		n++
	}
	return n
}

// spacesDir is /spaces: one directory per space the node accepted
// blobs for.
type spacesDir struct {
	fs.Inode
	dir
	index *spaceIndex
}

var (
	_ fs.NodeOpendirHandler = (*spacesDir)(nil)
	_ fs.NodeLookuper       = (*spacesDir)(nil)
	_ fs.NodeGetattrer      = (*spacesDir)(nil)
)

// OpendirHandle lists the spaces of the index.
func (d *spacesDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	x := d.index
	return newDirHandle(x.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return func(yield func(dirEntry, error) bool) {
			t, err := x.table(ctx)
			if err != nil {
				yield(dirEntry{}, err)
				return
			}
			for _, s := range t.spaces {
				if !yield(dirEntry{DirEntry: fuse.DirEntry{Name: s, Mode: syscall.S_IFDIR}}, nil) {
					return
				}
			}
		}
	}, func(err error) syscall.Errno { return x.root.toErrno("readdir", "/spaces", err) }), 0, 0
}

func (d *spacesDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	t, err := d.index.table(ctx)
	if err != nil {
		return nil, d.root.toErrno("lookup", "/spaces/"+name, err)
	}
	if _, _, ok := t.of(name); !ok {
		out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
		return nil, syscall.ENOENT
	}
	d.root.dirAttr(&out.Attr)
	out.SetEntryTimeout(d.root.cfg.RecordTimeout)
	out.SetAttrTimeout(d.root.cfg.RecordAttrTimeout)
	if ch := d.GetChild(name); ch != nil {
		return ch, 0
	}
	d.index.heldDir()
	return d.NewInode(ctx, &spaceDir{dir: d.dir, index: d.index, space: name}, fs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

// spaceDir is /spaces/<space DID>: the blobs the space accepted, each
// the very inode /blobs/<b32> is.
type spaceDir struct {
	fs.Inode
	dir
	index *spaceIndex
	space string
}

// Its LOOKUPs and listings are blobsFS's: blob nodes live outside
// go-fuse's tree.
var (
	_ fs.NodeGetattrer   = (*spaceDir)(nil)
	_ fs.NodeOnForgetter = (*spaceDir)(nil)
)

func (d *spaceDir) OnForget() { d.index.forgotDir() }

// blobListing is an open /spaces/<space>, which blobsFS answers as it
// answers /blobs: READDIRPLUS entries carry the blobs' nodes (sizes from
// the index on S3; on flatfs a stat of each file, ahead of the kernel),
// so that `ls -l`, `du` and `find | stat` send no LOOKUP per blob.
func (x *spaceIndex) blobListing(space string) *blobsListing {
	r := x.root
	l := &blobsListing{root: r, stats: r.blobStats.Load()}
	l.h = newDirHandle(r.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return func(yield func(dirEntry, error) bool) {
			t, err := x.table(ctx)
			if err != nil {
				yield(dirEntry{}, err)
				return
			}
			lo, hi, _ := t.of(space)
			batch := make([]dirEntry, 0, statBatch)
			for start := lo; start < hi; start += statBatch {
				// S3 rows carry sizes; local files are stat'ed only when
				// nodes are wanted, and are bare names otherwise.
				stat := r.files != nil && l.nodes(uint64(start-lo))
				batch = batch[:0]
				for i := start; i < min(start+statBatch, hi); i++ {
					d := t.digest(i)
					e := dirEntry{DirEntry: fuse.DirEntry{Name: blobstore.Name(d), Mode: syscall.S_IFREG}}
					if r.files == nil || stat {
						e.digest = mh.Multihash(slices.Clone(d))
					}
					if r.files == nil {
						e.meta = blobMeta{size: t.rows[i].size, mtime: unixTime(t.rows[i].mtime)}
					}
					batch = append(batch, e)
				}
				if stat {
					r.statFiles(ctx, batch)
				}
				for _, e := range batch {
					if !yield(e, nil) {
						return
					}
				}
			}
		}
	}, func(err error) syscall.Errno { return r.toErrno("readdir", "/spaces/"+space, err) })
	return l
}

// statBatch local files are stat'ed at once, on statJobs goroutines, by
// a space's listing: one stat after another in the READDIRPLUS handler
// made a walk of /spaces 2.8× the walk of the data dir.
const statBatch, statJobs = 256, 4

// statFiles learns the sizes of a batch of local blobs; where a stat
// fails the entry stays a bare name (digest nil), as plusEntry takes it.
func (r *Root) statFiles(ctx context.Context, batch []dirEntry) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(statJobs, len(batch)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(batch); i = int(next.Add(1) - 1) {
				meta, err := r.learnBlob(ctx, batch[i].digest)
				if err != nil {
					batch[i].digest = nil
					continue
				}
				batch[i].meta = meta
			}
		})
	}
	wg.Wait()
}

// lookupBlob answers a LOOKUP in /spaces/<space> (blobsFS's): the blob's
// node, the very one /blobs/<b32> is.
func (x *spaceIndex) lookupBlob(ctx context.Context, space, name string, out *fuse.EntryOut) syscall.Errno {
	r := x.root
	ctx, cancel := r.bound(ctx)
	defer cancel()
	t, err := x.table(ctx)
	if err != nil {
		return r.toErrno("lookup", "/spaces/"+space+"/"+name, err)
	}
	i, ok := t.find(space, name)
	if !ok {
		return syscall.ENOENT
	}
	// The index has the listed size; a local file is learnt as /blobs
	// learns it (a node the kernel holds keeps what it was first told).
	row, digest := t.rows[i], mh.Multihash(slices.Clone(t.digest(i)))
	meta := blobMeta{size: row.size, mtime: unixTime(row.mtime)}
	if r.files != nil {
		if meta, err = r.learnBlob(ctx, digest); err != nil {
			return r.toErrno("lookup", fmt.Sprintf("/spaces/%s/%s", space, name), err)
		}
	}
	r.blobEntry(out, digest, meta)
	return 0
}
