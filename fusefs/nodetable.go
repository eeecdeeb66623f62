package fusefs

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"

	mh "github.com/multiformats/go-multihash"
)

// nodeTable holds the blob inodes the kernel knows, outside go-fuse's
// node maps: a node is 64 bytes in a page of a table with no pointers
// (the collector does not scan it), found by digest through an
// open-addressed index of 4-byte slots. Pages the kernel has forgotten
// every node of are let go, and the index shrinks with the table, so a
// walk's memory comes back when the kernel forgets the walk (go-fuse's
// maps, like every Go map, keep their peak size).
//
// A node's FUSE node id is blobIDBit | (slot + 1): go-fuse counts its own
// ids up from 1 and never reaches that bit.
type nodeTable struct {
	mu    sync.Mutex
	pages []*nodePage
	// room lists pages that may have a free slot (a page may be listed
	// twice, or be full by now: allocation checks).
	room  []uint32
	index []uint32 // slot+1 of a node, 0: empty; len is a power of two
	live  int
	seed  maphash.Seed
}

const (
	blobIDBit    = 1 << 63
	nodePageBits = 10
	nodePageSize = 1 << nodePageBits
)

// blobNode is one blob inode. A digest longer than inlineDigest (no
// multihash Piri writes) is kept in its page's long map.
type blobNode struct {
	digest  [inlineDigest]byte
	dlen    uint8 // 0: the slot is free
	long    bool
	lookups uint64 // the kernel's lookup count
	size    int64
	mtime   int64 // Unix ns; 0: the backend keeps none
}

// inlineDigest fits a sha2-256 multihash (2 + 32 bytes).
const inlineDigest = 34

type nodePage struct {
	nodes [nodePageSize]blobNode
	used  [nodePageSize / 64]uint64
	live  int
	long  map[uint32]string // digests longer than inlineDigest, by slot in the page
}

func newNodeTable() *nodeTable {
	return &nodeTable{index: make([]uint32, 64), seed: maphash.MakeSeed()}
}

// isBlobID says whether a FUSE node id is a blob node's.
func isBlobID(id uint64) bool { return id&blobIDBit != 0 }

func (t *nodeTable) node(slot uint32) *blobNode {
	return &t.pages[slot>>nodePageBits].nodes[slot&(nodePageSize-1)]
}

// digestOf is a copy of the node's digest, for use outside the lock.
func (t *nodeTable) digestOf(slot uint32) mh.Multihash {
	return append(mh.Multihash(nil), t.digestAt(slot)...)
}

// digestAt is the node's digest where it is kept: valid while the lock
// is held.
func (t *nodeTable) digestAt(slot uint32) []byte {
	p := t.pages[slot>>nodePageBits]
	n := &p.nodes[slot&(nodePageSize-1)]
	if n.long {
		return []byte(p.long[slot&(nodePageSize-1)])
	}
	return n.digest[:n.dlen]
}

func (t *nodeTable) is(slot uint32, digest mh.Multihash) bool {
	p := t.pages[slot>>nodePageBits]
	n := &p.nodes[slot&(nodePageSize-1)]
	if n.long {
		return p.long[slot&(nodePageSize-1)] == string(digest)
	}
	return int(n.dlen) == len(digest) && string(n.digest[:n.dlen]) == string(digest)
}

// hash of a digest: its hash bytes are uniformly spread already when it
// is a cryptographic multihash; maphash covers every other kind.
func (t *nodeTable) hash(digest []byte) uint64 {
	if len(digest) >= 18 && (digest[0] == mh.SHA2_256 || digest[0] == 0x1e) { // sha2-256, blake3
		return binary.LittleEndian.Uint64(digest[len(digest)-8:])
	}
	return maphash.Bytes(t.seed, digest)
}

// find returns the index position holding digest's slot+1, or the empty
// position where it would go.
func (t *nodeTable) find(digest mh.Multihash) (pos int, found bool) {
	mask := len(t.index) - 1
	for pos = int(t.hash(digest)) & mask; ; pos = (pos + 1) & mask {
		v := t.index[pos]
		if v == 0 {
			return pos, false
		}
		if t.is(v-1, digest) {
			return pos, true
		}
	}
}

// Acquire is a LOOKUP's answer: digest's node id, with its lookup count
// raised, made from size and mtime when the kernel holds no node of it.
// It returns the node's size and time, which for a known node are what
// the kernel was first told.
func (t *nodeTable) Acquire(digest mh.Multihash, size int64, mtime time.Time) (id uint64, gotSize int64, gotMtime time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pos, found := t.find(digest)
	var slot uint32
	if found {
		slot = t.index[pos] - 1
	} else {
		slot = t.alloc(digest, size, mtime)
		t.index[pos] = slot + 1
		t.live++
		if t.live*2 > len(t.index) {
			t.resize(len(t.index) * 2)
		}
	}
	n := t.node(slot)
	n.lookups++
	return blobIDBit | uint64(slot+1), n.size, unixTime(n.mtime)
}

// Known is digest's node, when the kernel holds one.
func (t *nodeTable) Known(digest mh.Multihash) (size int64, mtime time.Time, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pos, found := t.find(digest)
	if !found {
		return 0, time.Time{}, false
	}
	n := t.node(t.index[pos] - 1)
	return n.size, unixTime(n.mtime), true
}

// Get is the node behind id.
func (t *nodeTable) Get(id uint64) (digest mh.Multihash, size int64, mtime time.Time, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	slot, ok := t.slot(id)
	if !ok {
		return nil, 0, time.Time{}, false
	}
	n := t.node(slot)
	return t.digestOf(slot), n.size, unixTime(n.mtime), true
}

func (t *nodeTable) slot(id uint64) (uint32, bool) {
	s := id &^ blobIDBit
	if s == 0 || s > uint64(len(t.pages))<<nodePageBits {
		return 0, false
	}
	slot := uint32(s - 1)
	p := t.pages[slot>>nodePageBits]
	if p == nil || p.nodes[slot&(nodePageSize-1)].dlen == 0 {
		return 0, false
	}
	return slot, true
}

// Forget lowers id's lookup count by n; at zero the node is gone, and
// Forget says so.
func (t *nodeTable) Forget(id uint64, n uint64) (gone bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	slot, ok := t.slot(id)
	if !ok {
		return false
	}
	node := t.node(slot)
	if node.lookups > n {
		node.lookups -= n
		return false
	}
	t.unindex(t.position(slot))
	t.free(slot)
	t.live--
	if len(t.index) > 64 && t.live*8 < len(t.index) {
		t.resize(len(t.index) / 2)
	}
	return true
}

// Len is how many nodes the kernel holds.
func (t *nodeTable) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}

func (t *nodeTable) alloc(digest mh.Multihash, size int64, mtime time.Time) uint32 {
	var pi uint32
	for {
		if len(t.room) == 0 {
			t.pages = append(t.pages, nil)
			t.room = append(t.room, uint32(len(t.pages)-1))
		}
		pi = t.room[len(t.room)-1]
		if p := t.pages[pi]; p == nil || p.live < nodePageSize {
			break
		}
		t.room = t.room[:len(t.room)-1]
	}
	p := t.pages[pi]
	if p == nil {
		p = &nodePage{}
		t.pages[pi] = p
	}
	var i int
	for w, u := range p.used {
		if u != ^uint64(0) {
			i = w*64 + bits.TrailingZeros64(^u)
			break
		}
	}
	p.used[i/64] |= 1 << (i % 64)
	p.live++
	n := &p.nodes[i]
	*n = blobNode{size: size, mtime: unixNano(mtime)}
	if len(digest) <= inlineDigest {
		copy(n.digest[:], digest)
		n.dlen = uint8(len(digest))
	} else {
		n.long, n.dlen = true, 1
		if p.long == nil {
			p.long = map[uint32]string{}
		}
		p.long[uint32(i)] = string(digest)
	}
	return pi<<nodePageBits | uint32(i)
}

func (t *nodeTable) free(slot uint32) {
	pi, i := slot>>nodePageBits, slot&(nodePageSize-1)
	p := t.pages[pi]
	if p.nodes[i].long {
		delete(p.long, i)
	}
	p.nodes[i] = blobNode{}
	p.used[i/64] &^= 1 << (i % 64)
	if p.live == nodePageSize {
		t.room = append(t.room, pi)
	}
	if p.live--; p.live == 0 {
		t.pages[pi] = nil // still listed in room: made again when needed
		for len(t.pages) > 0 && t.pages[len(t.pages)-1] == nil {
			t.pages = t.pages[:len(t.pages)-1]
		}
		if len(t.pages) == 0 {
			t.pages, t.room = nil, nil
		} else {
			t.dropRoomPast(uint32(len(t.pages)))
		}
	}
}

// dropRoomPast forgets listed pages beyond the table's end.
func (t *nodeTable) dropRoomPast(end uint32) {
	kept := t.room[:0]
	for _, pi := range t.room {
		if pi < end {
			kept = append(kept, pi)
		}
	}
	if cap(kept) > 64 && len(kept)*4 < cap(kept) {
		kept = append([]uint32(nil), kept...)
	}
	t.room = kept
}

// position is where the index holds slot.
func (t *nodeTable) position(slot uint32) int {
	mask := len(t.index) - 1
	pos := int(t.hash(t.digestAt(slot))) & mask
	for t.index[pos] != slot+1 {
		pos = (pos + 1) & mask
	}
	return pos
}

// unindex empties pos, moving later entries of its probe run back so
// that every entry stays reachable from its home position.
func (t *nodeTable) unindex(pos int) {
	mask := len(t.index) - 1
	t.index[pos] = 0
	for next := (pos + 1) & mask; t.index[next] != 0; next = (next + 1) & mask {
		v := t.index[next]
		home := int(t.hash(t.digestAt(v-1))) & mask
		// v may move to pos unless its home lies cyclically in (pos, next].
		if (next-home)&mask >= (next-pos)&mask {
			t.index[pos], t.index[next] = v, 0
			pos = next
		}
	}
}

func (t *nodeTable) resize(n int) {
	old := t.index
	t.index = make([]uint32, n)
	mask := n - 1
	for _, v := range old {
		if v == 0 {
			continue
		}
		pos := int(t.hash(t.digestAt(v-1))) & mask
		for t.index[pos] != 0 {
			pos = (pos + 1) & mask
		}
		t.index[pos] = v
	}
}

// unixNano and unixTime keep a time in 8 bytes, 0 for none (the zero
// Time's UnixNano is not 0).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
