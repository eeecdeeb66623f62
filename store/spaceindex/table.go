package spaceindex

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/objectstore"
)

// logGhosts is how many accepted blobs that are not stored a build
// names in the log; the rest are counted.
const logGhosts = 10

// Build builds the index of accepts joined with one listing of blobs. An
// acceptance whose key does not say its blob and space is read; one that
// does not decode is logged and left out.
func Build(ctx context.Context, accepts *acceptancestore.Store, blobs blobstore.Store, log *slog.Logger) (*Table, error) {
	b := tableBuilder{spaceIDs: map[string]uint32{}}
	for e, err := range accepts.List(ctx, "") {
		if err != nil {
			return nil, err
		}
		name, space, _ := strings.Cut(e.ID, "/")
		if !strings.HasPrefix(e.ID, genericstore.AtKey) && strings.HasPrefix(space, "did:") && b.add(name, space) {
			continue
		}
		// A key of another shape (or whose second part is a cause, not a
		// space): only the record says which blob and space.
		a, err := accepts.Get(ctx, e.ID)
		switch {
		case errors.Is(err, genericstore.ErrCorrupt):
			log.Error("an acceptance does not decode; left out of /spaces", "key", e.ID, "err", err)
			continue
		case errors.Is(err, objectstore.ErrNotExist): // deleted since listed
			continue
		case err != nil:
			return nil, err
		}
		b.addDigest(a.Digest, a.Space)
	}
	if err := b.join(ctx, blobs); err != nil {
		return nil, err
	}
	return b.seal(log), nil
}

// Table is the index: each (space, blob) pair the acceptances name
// and the store holds, one row of 40 bytes, sorted by space and then by
// digest, with the digests packed in one arena. About 80 bytes a pair
// in all (BenchmarkSpacesIndex); Go maps of names took ~450.
type Table struct {
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
// seals them into a Table.
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
func (b *tableBuilder) join(ctx context.Context, blobs blobstore.Store) error {
	slices.SortFunc(b.rows, func(p, q spaceRow) int { return compareDigest(b.arena, p, b.digest(q), q.head) })
	mark := func(d []byte, size, mtime int64) {
		for i := searchDigest(b.arena, b.rows, d); i < len(b.rows) && bytes.Equal(b.digest(b.rows[i]), d); i++ {
			b.rows[i].stored, b.rows[i].size, b.rows[i].mtime = true, size, mtime
		}
	}
	if files := blobs.Files(); files != nil {
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
	for info, err := range blobs.List(ctx) {
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
func (b *tableBuilder) seal(log *slog.Logger) *Table {
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
				log.Warn("an accepted blob is not stored; left out of /spaces (storefs check: missing-blob)", "blob", blobstore.Name(b.digest(row)), "space", names[row.space])
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
		log.Warn("more accepted blobs are not stored; left out of /spaces (storefs check: missing-blob)", "count", ghosts-logGhosts)
	}

	t := &Table{arena: make([]byte, 0, size)}
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

// Digest is row i's blob: the table's bytes, to be copied if kept.
func (t *Table) Digest(i uint32) []byte {
	r := t.rows[i]
	return t.arena[r.off : r.off+uint32(r.n)]
}

// Size is row i's blob's size from the listing; 0 where it has none
// (local files, which a reader stats).
func (t *Table) Size(i uint32) int64 { return t.rows[i].size }

// ModTime is row i's blob's time from the listing; zero where it has
// none.
func (t *Table) ModTime(i uint32) time.Time {
	if ns := t.rows[i].mtime; ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Pairs is how many (space, blob) pairs the index holds.
func (t *Table) Pairs() int { return len(t.rows) }

// Spaces are the spaces that accepted a stored blob, sorted.
func (t *Table) Spaces() []string { return t.spaces }

// Of is the range of rows of space; ok is false for a space that
// accepted no stored blob.
func (t *Table) Of(space string) (lo, hi uint32, ok bool) {
	i, ok := slices.BinarySearch(t.spaces, space)
	if !ok {
		return 0, 0, false
	}
	return t.starts[i], t.starts[i+1], true
}

// Find is the row of a blob, by its canonical name, in space.
func (t *Table) Find(space, name string) (uint32, bool) {
	lo, hi, ok := t.Of(space)
	if !ok {
		return 0, false
	}
	var buf [64]byte
	d, ok := blobstore.AppendDigest(buf[:0], name)
	if !ok {
		return 0, false
	}
	i := lo + uint32(searchDigest(t.arena, t.rows[lo:hi], d))
	return i, i < hi && bytes.Equal(t.Digest(i), d)
}

// Links is how many spaces accepted the blob.
func (t *Table) Links(digest []byte) uint32 {
	head := headOf(digest)
	i, _ := slices.BinarySearchFunc(t.byDigest, digest, func(row uint32, d []byte) int {
		return compareDigest(t.arena, t.rows[row], d, head)
	})
	n := uint32(0)
	for ; i < len(t.byDigest) && bytes.Equal(t.Digest(t.byDigest[i]), digest); i++ {
		n++
	}
	return n
}

// unixNano keeps a time in 8 bytes, 0 for none (the zero Time's
// UnixNano is not 0).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
