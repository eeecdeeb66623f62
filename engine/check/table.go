package check

import (
	"hash/maphash"
	"slices"

	"github.com/storacha/storefs/internal/helpers/digestset"
)

// Where a blob is stored (its digestset row's Flags): under the key
// Piri v0.2.4 reads, or only under v0.2.3's bare S3 key, which v0.2.4 no
// longer finds.
const (
	keyCurrent uint8 = 1 << iota
	keyLegacy
)

// Records that name a blob (its row's Marks).
const (
	allocated uint8 = 1 << iota
	accepted
)

// foldKeys folds a blob listed under two keys into one row, keeping the
// size stored under its current key.
func foldKeys(kept *digestset.Row, other digestset.Row) {
	if other.Flags&keyCurrent != 0 {
		kept.Size = other.Size
	}
	kept.Flags |= other.Flags
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
