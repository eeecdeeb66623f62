package audit

import (
	"bytes"
	"hash/maphash"
	"slices"

	mh "github.com/multiformats/go-multihash"
)

// blobTable is every stored blob, compact: the digests packed in one
// arena, and per blob 16 bytes of size and flags. Listings come in
// backend order (flatfs: shard, then name; S3: key) and records in
// base58 digest order, so the join is by binary search over the table
// sorted by digest. A million sha2-256 blobs take about 50 MB.
type blobTable struct {
	arena []byte
	rows  []row
}

type row struct {
	off   uint32 // of the digest in arena
	n     uint8  // its length
	keys  uint8  // keyCurrent | keyLegacy
	marks uint8  // allocated | accepted
	size  int64
}

// Where a blob is stored: under the key Piri v0.2.4 reads, or only under
// v0.2.3's bare S3 key, which v0.2.4 no longer finds.
const (
	keyCurrent uint8 = 1 << iota
	keyLegacy
)

// Records that name a blob.
const (
	allocated uint8 = 1 << iota
	accepted
)

func (t *blobTable) add(digest mh.Multihash, size int64, key uint8) {
	t.rows = append(t.rows, row{off: uint32(len(t.arena)), n: uint8(len(digest)), keys: key, size: size})
	t.arena = append(t.arena, digest...)
}

func (t *blobTable) digest(r row) []byte { return t.arena[r.off : r.off+uint32(r.n)] }

// seal sorts the table and folds a blob listed under two keys into one
// row, keeping the size stored under its current key.
func (t *blobTable) seal() {
	slices.SortFunc(t.rows, func(a, b row) int { return bytes.Compare(t.digest(a), t.digest(b)) })
	out := t.rows[:0]
	for _, r := range t.rows {
		if n := len(out); n > 0 && bytes.Equal(t.digest(out[n-1]), t.digest(r)) {
			last := &out[n-1]
			if r.keys&keyCurrent != 0 {
				last.size = r.size
			}
			last.keys |= r.keys
			continue
		}
		out = append(out, r)
	}
	t.rows = slices.Clip(out)
}

// find returns the index of digest's row, or -1.
func (t *blobTable) find(digest []byte) int {
	i, ok := slices.BinarySearchFunc(t.rows, digest, func(r row, d []byte) int { return bytes.Compare(t.digest(r), d) })
	if !ok {
		return -1
	}
	return i
}

// pairSet remembers (blob, space) pairs as 64-bit fingerprints: 8 bytes
// each, sorted once filled. A false match needs a 64-bit collision
// among the node's acceptances.
type pairSet struct {
	seed maphash.Seed
	fps  []uint64
}

func newPairSet() *pairSet { return &pairSet{seed: maphash.MakeSeed()} }

func (p *pairSet) fingerprint(digest []byte, space string) uint64 {
	var h maphash.Hash
	h.SetSeed(p.seed)
	h.Write(digest)
	h.WriteByte(0)
	h.WriteString(space)
	return h.Sum64()
}

func (p *pairSet) add(digest []byte, space string) {
	p.fps = append(p.fps, p.fingerprint(digest, space))
}

func (p *pairSet) seal() { slices.Sort(p.fps) }

func (p *pairSet) has(digest []byte, space string) bool {
	_, ok := slices.BinarySearch(p.fps, p.fingerprint(digest, space))
	return ok
}
