package fusefs

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	mh "github.com/multiformats/go-multihash"
)

func testDigest(t testing.TB, i int, code uint64) mh.Multihash {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	d, err := mh.Sum(seed[:], code, -1)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestNodeTableModel runs random lookups and forgets against a map of
// what the kernel would hold, and checks every answer, the ids a node
// keeps, and that the memory goes when the nodes do.
func TestNodeTableModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tab := newNodeTable()
	type held struct {
		id      uint64
		lookups uint64
		size    int64
	}
	model := map[int]*held{}
	const keys = 5000
	digest := func(k int) mh.Multihash {
		switch k % 7 {
		case 0:
			return testDigest(t, k, mh.SHA2_512) // 66 bytes: kept outside the page
		case 1:
			return testDigest(t, k, mh.MURMUR3X64_64) // short, not cryptographic
		}
		return testDigest(t, k, mh.SHA2_256)
	}
	check := func(k int, h *held) {
		d, size, mtime, ok := tab.Get(h.id)
		if !ok || !bytes.Equal(d, digest(k)) || size != h.size || mtime.UnixNano() != int64(k)+1 {
			t.Fatalf("key %d: Get(%x) = %x %d %v %v", k, h.id, d, size, mtime, ok)
		}
	}
	for step := range 200_000 {
		k := rng.IntN(keys)
		if step > 150_000 { // the kernel drops its caches: only forgets
			for k, h := range model {
				if !tab.Forget(h.id, h.lookups) {
					t.Fatalf("forgetting all of key %d left its node", k)
				}
				delete(model, k)
				if _, _, _, ok := tab.Get(h.id); ok {
					t.Fatalf("key %d still there after its forget", k)
				}
			}
			break
		}
		h := model[k]
		if h != nil && rng.IntN(3) == 0 {
			n := 1 + uint64(rng.IntN(int(h.lookups)))
			gone := tab.Forget(h.id, n)
			if h.lookups -= n; gone != (h.lookups == 0) {
				t.Fatalf("key %d: Forget gone=%v with %d lookups left", k, gone, h.lookups)
			}
			if gone {
				delete(model, k)
				if _, _, ok := tab.Known(digest(k)); ok {
					t.Fatalf("key %d known after its last forget", k)
				}
			}
			continue
		}
		size := int64(rng.IntN(1 << 20))
		id, gotSize, _ := tab.Acquire(digest(k), size, time.Unix(0, int64(k)+1))
		if !isBlobID(id) {
			t.Fatalf("id %x lacks the blob bit", id)
		}
		if h == nil {
			h = &held{id: id, size: size}
			model[k] = h
		} else if id != h.id || gotSize != h.size {
			t.Fatalf("key %d: id %x size %d, had %x %d", k, id, gotSize, h.id, h.size)
		}
		h.lookups++
		check(k, h)
		if tab.Len() != len(model) {
			t.Fatalf("Len %d, model %d", tab.Len(), len(model))
		}
	}
	if tab.Len() != 0 || len(tab.pages) != 0 || len(tab.index) > 64 {
		t.Fatalf("after every forget: %d nodes, %d pages, index of %d", tab.Len(), len(tab.pages), len(tab.index))
	}
	if _, _, _, ok := tab.Get(blobIDBit | 12345); ok {
		t.Fatal("an id never given out was found")
	}
}

// TestNodeTableKeepsIDsWhilePagesEmpty fills pages, empties the first,
// and checks that nodes in later pages keep their ids and that the
// empty page is made again for new nodes.
func TestNodeTableKeepsIDsWhilePagesEmpty(t *testing.T) {
	tab := newNodeTable()
	ids := make([]uint64, 3*nodePageSize)
	for i := range ids {
		ids[i], _, _ = tab.Acquire(testDigest(t, i, mh.SHA2_256), int64(i), time.Time{})
	}
	for i := range nodePageSize {
		tab.Forget(ids[i], 1)
	}
	if tab.pages[0] != nil {
		t.Fatal("an empty page was kept")
	}
	for i := nodePageSize; i < len(ids); i++ {
		if d, size, _, ok := tab.Get(ids[i]); !ok || size != int64(i) || !bytes.Equal(d, testDigest(t, i, mh.SHA2_256)) {
			t.Fatalf("node %d lost after another page emptied", i)
		}
	}
	id, _, _ := tab.Acquire(testDigest(t, -1, mh.SHA2_256), 1, time.Time{})
	if _, _, _, ok := tab.Get(id); !ok {
		t.Fatal("a new node after an emptied page is not found")
	}
}

// BenchmarkNodeTable measures a lookup of a new blob and the table's
// memory per node.
func BenchmarkNodeTable(b *testing.B) {
	digests := make([]mh.Multihash, 1<<20)
	for i := range digests {
		digests[i] = testDigest(b, i, mh.SHA2_256)
	}
	b.ResetTimer()
	tab := newNodeTable()
	for i := range b.N {
		tab.Acquire(digests[i%len(digests)], 8, time.Time{})
	}
	b.StopTimer()
	n := min(b.N, len(digests))
	bytes := len(tab.pages)*int(unsafeSizeofPage) + 4*len(tab.index)
	b.ReportMetric(float64(bytes)/float64(n), "B/node")
}

const unsafeSizeofPage = unsafe.Sizeof(nodePage{})
