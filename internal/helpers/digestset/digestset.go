// Package digestset is a compact table of multihash digests, each with a
// size and a few flag bits, for joins over millions of blobs (check,
// copy): the digests packed in one arena, 16 bytes of row each, sorted
// once and searched. A million sha2-256 blobs take about 50 MB, where a
// Go map of them would take several times that.
package digestset

import (
	"bytes"
	"slices"
)

// Table is the set. Add every digest, Seal, then Find.
type Table struct {
	arena []byte
	rows  []Row
}

// Row is one digest's entry.
type Row struct {
	off   uint32 // of the digest in arena
	n     uint8  // its length
	Flags uint8  // the caller's
	Marks uint8  // the caller's
	Size  int64
}

// Add adds a digest. The same digest may be added more than once: Seal
// folds the rows.
func (t *Table) Add(digest []byte, size int64, flags uint8) {
	t.rows = append(t.rows, Row{off: uint32(len(t.arena)), n: uint8(len(digest)), Flags: flags, Size: size})
	t.arena = append(t.arena, digest...)
}

// Digest is a row's digest (the table's bytes: do not keep or change).
func (t *Table) Digest(r Row) []byte { return t.arena[r.off : r.off+uint32(r.n)] }

// Seal sorts the table and folds the rows of one digest into the first,
// calling fold(kept, other) for each other row.
func (t *Table) Seal(fold func(kept *Row, other Row)) {
	slices.SortFunc(t.rows, func(a, b Row) int { return bytes.Compare(t.Digest(a), t.Digest(b)) })
	out := t.rows[:0]
	for _, r := range t.rows {
		if n := len(out); n > 0 && bytes.Equal(t.Digest(out[n-1]), t.Digest(r)) {
			if fold != nil {
				fold(&out[n-1], r)
			}
			continue
		}
		out = append(out, r)
	}
	t.rows = slices.Clip(out)
}

// Rows are the sealed rows, in digest order; a caller may change their
// Marks.
func (t *Table) Rows() []Row { return t.rows }

// Len is the number of rows.
func (t *Table) Len() int { return len(t.rows) }

// Find returns the row of digest, or nil.
func (t *Table) Find(digest []byte) *Row {
	i, ok := t.Index(digest)
	if !ok {
		return nil
	}
	return &t.rows[i]
}

// Index is the position of digest's row among Rows: a reference to a
// row in 4 bytes.
func (t *Table) Index(digest []byte) (int, bool) {
	return slices.BinarySearchFunc(t.rows, digest, func(r Row, d []byte) int { return bytes.Compare(t.Digest(r), d) })
}

// Snapshot is a copy of a sealed table whose rows no later Marks reach:
// for a reader beside writers of the original's marks. The digests are
// shared (they never change after Seal).
func (t *Table) Snapshot() *Table {
	return &Table{arena: t.arena, rows: slices.Clone(t.rows)}
}
