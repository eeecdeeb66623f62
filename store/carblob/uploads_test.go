package carblob_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/testsupport/uploads"
	"github.com/storacha/storefs/store/carblob"
)

// upload is a DAG with a big balanced file, a trickle file, a HAMT
// directory of hundreds of entries and a symlink, made by the test
// generator (boxo's importer).
func upload(t *testing.T) *uploads.DAG {
	t.Helper()
	big := make([]byte, 3<<20+12345)
	rand.NewChaCha8([32]byte{1}).Read(big)
	entries := []uploads.Entry{
		{Path: "big.bin", Data: big},
		{Path: "docs/readme.txt", Data: []byte("hello")},
		{Path: "docs/link", Symlink: "readme.txt"},
	}
	for i := range 300 {
		entries = append(entries, uploads.Entry{Path: fmt.Sprintf("many/file-%03d", i), Data: []byte(fmt.Sprint("entry ", i))})
	}
	d, err := uploads.Import(entries, uploads.Options{Chunk: 64 << 10, MaxLinks: 16, HAMTAbove: 100})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Every blob of uploads packed as the JS client and guppy pack them is
// what it is: shards (the root named in the JS client's last one only),
// indexes naming the content (guppy: its placeholder) whose every slice
// is its block's data in its shard, as a scan of the shard finds it.
func TestGeneratedUploads(t *testing.T) {
	d := upload(t)
	for _, c := range []struct {
		name string
		pack uploads.Pack
	}{
		{"js", uploads.JS(1 << 20)},
		{"guppy", uploads.Guppy(1<<20, 100)},
		{"js filepack", func() uploads.Pack { p := uploads.JS(1 << 20); p.Framing = uploads.Filepack; return p }()},
	} {
		u, err := c.pack.Pack(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Shards) < 3 {
			t.Fatalf("%s: %d shards, want several", c.name, len(u.Shards))
		}
		shards := map[string][]byte{}
		for i, s := range u.Shards {
			shards[string(s.Digest)] = s.Data
			h := classify(t, s.Data)
			switch {
			case c.pack.Framing == uploads.Filepack:
				if h.Kind != carblob.Other {
					t.Errorf("%s: a filepack shard is %v", c.name, h.Kind)
				}
			case h.Kind != carblob.Shard:
				t.Errorf("%s: shard %d is %v", c.name, i, h.Kind)
			case c.pack.RootsInLast && i == len(u.Shards)-1:
				if len(h.Roots) != 1 || !h.Roots[0].Equals(d.Root) {
					t.Errorf("%s: the last shard's roots %v, want the root", c.name, h.Roots)
				}
			case len(h.Roots) != 0:
				t.Errorf("%s: shard %d names roots %v", c.name, i, h.Roots)
			}
		}
		if c.pack.MaxSlices > 0 && len(u.Indexes) < 2 {
			t.Errorf("%s: %d index blobs for %d slices of at most %d", c.name, len(u.Indexes), len(u.Slices), c.pack.MaxSlices)
		}
		located := 0
		for _, ixBlob := range u.Indexes {
			if h := classify(t, ixBlob.Data); h.Kind != carblob.Index {
				t.Fatalf("%s: index blob is %v", c.name, h.Kind)
			}
			ix, err := carblob.DecodeIndex(ixBlob.Data)
			if err != nil {
				t.Fatal(err)
			}
			want := d.Root
			if c.pack.Placeholder {
				want = uploads.Placeholder
			}
			if !ix.Content.Equals(want) {
				t.Errorf("%s: content %s, want %s", c.name, ix.Content, want)
			}
			for _, s := range ix.Shards {
				data := shards[string(s.Shard)]
				for _, sl := range s.Slices {
					if sl.Offset+sl.Length > uint64(len(data)) {
						t.Fatalf("%s: slice past its shard's end", c.name)
					}
					got := data[sl.Offset : sl.Offset+sl.Length]
					sum, _ := mh.Sum(got, mhCode(t, sl.Digest), -1)
					if !bytes.Equal(sum, sl.Digest) {
						t.Fatalf("%s: slice %x: its bytes do not hash to it", c.name, sl.Digest)
					}
					located++
				}
			}
		}
		selfSlices := 0
		if c.pack.ShardSelfSlice {
			selfSlices = len(u.Shards)
		}
		if located != len(d.Blocks)+selfSlices {
			t.Errorf("%s: %d slices located, want %d blocks (+%d shards' own)", c.name, located, len(d.Blocks), selfSlices)
		}
		if c.pack.Framing == uploads.CAR {
			scanned := 0
			for _, s := range u.Shards {
				err := carblob.Scan(bytes.NewReader(s.Data), func(b carblob.Block) error {
					want := u.Slices[string(b.CID.Hash())]
					if !bytes.Equal(want.Shard, s.Digest) || want.Offset != b.Offset || want.Length != b.Length {
						return fmt.Errorf("block %s at [%d,+%d), the index says %+v", b.CID, b.Offset, b.Length, want)
					}
					scanned++
					return nil
				})
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
			}
			if scanned != len(d.Blocks) {
				t.Errorf("%s: %d blocks scanned, want %d", c.name, scanned, len(d.Blocks))
			}
		}
	}
}

func mhCode(t *testing.T, d mh.Multihash) uint64 {
	dec, err := mh.Decode(d)
	if err != nil {
		t.Fatal(err)
	}
	return dec.Code
}
