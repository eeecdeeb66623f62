package carblob_test

import (
	"bytes"
	"testing"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/testsupport/jsupload"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/carblob"
)

// The real JS client's upload: its shards are CARs, roots only in the
// last; its index names the real root, every shard, each block's data
// where a scan finds it, and each shard whole.
func TestJSClientUpload(t *testing.T) {
	u := jsupload.Load(t)
	shards := map[string][]byte{}
	for i, s := range u.Shards {
		if blobstore.Name(s.Digest) != s.Name {
			t.Fatalf("fixture %s is not named by its bytes", s.Name)
		}
		shards[string(s.Digest)] = s.Data
		h := classify(t, s.Data)
		wantRoots := 0
		if i == len(u.Shards)-1 {
			wantRoots = 1
		}
		if h.Kind != carblob.Shard || len(h.Roots) != wantRoots || (wantRoots == 1 && !h.Roots[0].Equals(u.Root)) {
			t.Errorf("shard %d: %v, roots %v", i, h.Kind, h.Roots)
		}
	}
	if h := classify(t, u.Index.Data); h.Kind != carblob.Index {
		t.Fatalf("index blob: %v", h.Kind)
	}
	ix, err := carblob.DecodeIndex(u.Index.Data)
	if err != nil {
		t.Fatal(err)
	}
	if !ix.Content.Equals(u.Root) || len(ix.Shards) != len(u.Shards) {
		t.Fatalf("index: content %s, %d shards", ix.Content, len(ix.Shards))
	}
	for _, s := range ix.Shards {
		data := shards[string(s.Shard)]
		if data == nil {
			t.Fatalf("the index names a shard not in the upload: %s", blobstore.Name(s.Shard))
		}
		table := map[string]carblob.Block{}
		if err := carblob.Scan(bytes.NewReader(data), func(b carblob.Block) error { table[string(b.CID.Hash())] = b; return nil }); err != nil {
			t.Fatal(err)
		}
		self := 0
		for _, sl := range s.Slices {
			if bytes.Equal(sl.Digest, s.Shard) {
				self++
				if sl.Offset != 0 || sl.Length != uint64(len(data)) {
					t.Errorf("the shard's own slice: [%d,+%d)", sl.Offset, sl.Length)
				}
				continue
			}
			b, ok := table[string(sl.Digest)]
			if !ok || b.Offset != sl.Offset || b.Length != sl.Length {
				t.Fatalf("slice %s at [%d,+%d); the scan: %+v", blobstore.Name(sl.Digest), sl.Offset, sl.Length, b)
			}
			sum, _ := mh.Sum(data[sl.Offset:sl.Offset+sl.Length], mhCode(t, sl.Digest), -1)
			if !bytes.Equal(sum, sl.Digest) {
				t.Fatalf("slice %s: its bytes do not hash to it", blobstore.Name(sl.Digest))
			}
		}
		if self != 1 || len(s.Slices)-1 != len(table) {
			t.Errorf("shard %s: %d slices (%d its own), %d blocks scanned", blobstore.Name(s.Shard), len(s.Slices), self, len(table))
		}
	}
}
