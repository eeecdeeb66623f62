package carblob_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/carblob"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/ucan"
)

func rawBlock(data []byte) ipldutil.Block {
	c, _ := cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1}.Sum(data)
	return ipldutil.Block{CID: c, Data: data}
}

func writeCAR(t *testing.T, roots []cid.Cid, blocks ...ipldutil.Block) []byte {
	t.Helper()
	b, err := ucan.WriteCAR(roots, blocks)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shardOf is a CAR of n raw blocks of size bytes, and its blocks.
func shardOf(t *testing.T, n, size int, roots ...cid.Cid) ([]byte, []ipldutil.Block) {
	t.Helper()
	var blocks []ipldutil.Block
	for i := range n {
		blocks = append(blocks, rawBlock(bytes.Repeat([]byte{byte(i)}, size)))
	}
	return writeCAR(t, roots, blocks...), blocks
}

// indexOf encodes an index of content over shards, as the clients do: the
// root block first, then a BlobIndex block per shard.
func indexOf(t *testing.T, content cid.Cid, shards []carblob.ShardSlices) []byte {
	t.Helper()
	var blocks []ipldutil.Block
	var links []cid.Cid
	for _, s := range shards {
		n, err := qp.BuildList(basicnode.Prototype.Any, 2, func(la datamodel.ListAssembler) {
			qp.ListEntry(la, qp.Bytes(s.Shard))
			qp.ListEntry(la, qp.List(int64(len(s.Slices)), func(la datamodel.ListAssembler) {
				for _, sl := range s.Slices {
					qp.ListEntry(la, qp.List(2, func(la datamodel.ListAssembler) {
						qp.ListEntry(la, qp.Bytes(sl.Digest))
						qp.ListEntry(la, qp.List(2, func(la datamodel.ListAssembler) {
							qp.ListEntry(la, qp.Int(int64(sl.Offset)))
							qp.ListEntry(la, qp.Int(int64(sl.Length)))
						}))
					}))
				}
			}))
		})
		if err != nil {
			t.Fatal(err)
		}
		b, err := ipldutil.EncodeBlock(n)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
		links = append(links, b.CID)
	}
	root, err := qp.BuildMap(basicnode.Prototype.Any, 1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, carblob.IndexVersion, qp.Map(2, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "content", qp.Link(ipldutil.Link(content)))
			qp.MapEntry(ma, "shards", qp.List(int64(len(links)), func(la datamodel.ListAssembler) {
				for _, l := range links {
					qp.ListEntry(la, qp.Link(ipldutil.Link(l)))
				}
			}))
		}))
	})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := ipldutil.EncodeBlock(root)
	if err != nil {
		t.Fatal(err)
	}
	return writeCAR(t, []cid.Cid{rb.CID}, append([]ipldutil.Block{rb}, blocks...)...)
}

func classify(t *testing.T, blob []byte) carblob.Head {
	t.Helper()
	head := blob[:min(len(blob), carblob.HeadSize)]
	for range 3 {
		h, err := carblob.Classify(head, int64(len(blob)))
		var short *carblob.ShortError
		if errors.As(err, &short) {
			if short.Need <= int64(len(head)) || short.Need > int64(len(blob)) {
				t.Fatalf("asked for %d bytes with %d of %d", short.Need, len(head), len(blob))
			}
			head = blob[:short.Need]
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	t.Fatal("Classify kept asking for more")
	return carblob.Head{}
}

// sliceTable is an index's slices for a shard, from its block table.
func sliceTable(t *testing.T, shard []byte) carblob.ShardSlices {
	t.Helper()
	d, _ := mh.Sum(shard, mh.SHA2_256, -1)
	s := carblob.ShardSlices{Shard: d}
	err := carblob.Scan(bytes.NewReader(shard), func(b carblob.Block) error {
		s.Slices = append(s.Slices, carblob.Slice{Digest: b.CID.Hash(), Offset: b.Offset, Length: b.Length})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Kinds and roots from the first bytes: a shard with no roots (guppy,
// the JS client's first shards), one naming the root (its last), an
// index, and bytes that are no CAR.
func TestClassify(t *testing.T) {
	noRoots, blocks := shardOf(t, 3, 100)
	last, _ := shardOf(t, 2, 50, blocks[0].CID)
	ix := indexOf(t, blocks[0].CID, []carblob.ShardSlices{sliceTable(t, noRoots), sliceTable(t, last)})
	for _, c := range []struct {
		name  string
		blob  []byte
		kind  carblob.Kind
		roots int
	}{
		{"shard, no roots", noRoots, carblob.Shard, 0},
		{"shard naming the root", last, carblob.Shard, 1},
		{"index", ix, carblob.Index, 1},
		{"raw bytes", bytes.Repeat([]byte{0xff}, 5000), carblob.Other, 0},
		{"empty-looking", []byte{0}, carblob.Other, 0},
		{"filepack: raw blocks back to back", append(bytes.Repeat([]byte("a"), 100), bytes.Repeat([]byte("b"), 100)...), carblob.Other, 0},
	} {
		h := classify(t, c.blob)
		if h.Kind != c.kind || len(h.Roots) != c.roots {
			t.Errorf("%s: %v with %d roots, want %v with %d", c.name, h.Kind, len(h.Roots), c.kind, c.roots)
		}
	}
	// A root block that does not fit in the first 4 KiB is asked for.
	var big []carblob.ShardSlices
	for i := range 200 {
		d, _ := mh.Sum([]byte(fmt.Sprint(i)), mh.SHA2_256, -1)
		big = append(big, carblob.ShardSlices{Shard: d})
	}
	bigIndex := indexOf(t, blocks[0].CID, big)
	if h := classify(t, bigIndex); h.Kind != carblob.Index {
		t.Errorf("an index whose root block passes 4 KiB: %v", h.Kind)
	}
}

// Bad input is "other" or a shard, never a panic: truncation anywhere, a
// header that claims more than the blob, a root block that does not
// match its CID.
func TestClassifyBadInput(t *testing.T) {
	shard, blocks := shardOf(t, 2, 100)
	ix := indexOf(t, blocks[0].CID, []carblob.ShardSlices{sliceTable(t, shard)})
	for cut := 0; cut < len(ix); cut++ {
		b := ix[:cut]
		if _, err := carblob.Classify(b, int64(len(b))); err != nil {
			t.Fatalf("cut at %d: %v (a whole blob never needs more)", cut, err)
		}
		if _, err := carblob.DecodeIndex(b); err == nil {
			t.Fatalf("cut at %d: a truncated index decoded", cut)
		}
	}
	lying := append([]byte{0xff, 0x7f}, ix[2:]...) // header length 16383, blob shorter
	if h := classify(t, lying); h.Kind != carblob.Other {
		t.Errorf("a header longer than the blob: %v", h.Kind)
	}
	bad := bytes.Clone(ix)
	bad[len(bad)-1] ^= 1 // in the last shard block, not the root
	if _, err := carblob.DecodeIndex(bad); err == nil {
		t.Error("an index with a block that does not match its CID decoded")
	}
}

// An index decodes to what was written: content, shards, each slice's
// position; and those positions are where the blocks' data lies.
func TestDecodeIndex(t *testing.T) {
	a, ablocks := shardOf(t, 4, 300)
	b, bblocks := shardOf(t, 2, 70, ablocks[0].CID)
	want := []carblob.ShardSlices{sliceTable(t, a), sliceTable(t, b)}
	ix, err := carblob.DecodeIndex(indexOf(t, ablocks[0].CID, want))
	if err != nil {
		t.Fatal(err)
	}
	if !ix.Content.Equals(ablocks[0].CID) || len(ix.Shards) != 2 {
		t.Fatalf("index %+v", ix)
	}
	shards := map[string][]byte{string(want[0].Shard): a, string(want[1].Shard): b}
	all := append(ablocks, bblocks...)
	for _, s := range ix.Shards {
		data := shards[string(s.Shard)]
		if data == nil {
			t.Fatalf("shard %x not written", s.Shard)
		}
		for _, sl := range s.Slices {
			got := data[sl.Offset : sl.Offset+sl.Length]
			found := false
			for _, blk := range all {
				found = found || (bytes.Equal(blk.CID.Hash(), sl.Digest) && bytes.Equal(blk.Data, got))
			}
			if !found {
				t.Fatalf("slice %x at [%d,+%d) is not its block's data", sl.Digest, sl.Offset, sl.Length)
			}
		}
	}
	for _, notIndex := range [][]byte{a, []byte("nope"), writeCAR(t, nil)} {
		if _, err := carblob.DecodeIndex(notIndex); !errors.Is(err, carblob.ErrNotIndex) {
			t.Errorf("decode of a non-index: %v", err)
		}
	}
}

// A scan yields every section, in order, with its data's place; a
// truncated CAR ends in an error after the whole sections.
func TestScan(t *testing.T) {
	shard, blocks := shardOf(t, 5, 1000)
	var got []carblob.Block
	if err := carblob.Scan(bytes.NewReader(shard), func(b carblob.Block) error { got = append(got, b); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(blocks) {
		t.Fatalf("%d blocks scanned, want %d", len(got), len(blocks))
	}
	for i, b := range got {
		if !b.CID.Equals(blocks[i].CID) || !bytes.Equal(shard[b.Offset:b.Offset+b.Length], blocks[i].Data) {
			t.Fatalf("block %d: %s at [%d,+%d)", i, b.CID, b.Offset, b.Length)
		}
	}
	n := 0
	err := carblob.Scan(bytes.NewReader(shard[:len(shard)-10]), func(carblob.Block) error { n++; return nil })
	if err == nil || n != len(blocks)-1 {
		t.Fatalf("truncated: %d blocks, %v; want %d and an error", n, err, len(blocks)-1)
	}
}
