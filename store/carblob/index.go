package carblob

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-ipld-prime/datamodel"
	mh "github.com/multiformats/go-multihash"
	"github.com/multiformats/go-varint"

	"github.com/storacha/storefs/store/ipldutil"
)

// IndexVersion is the variant of the sharded DAG index this reads
// (storacha/specs w3-index.md).
const IndexVersion = "index/sharded/dag@0.1"

// MaxIndex bounds an index blob read into memory: the JS client writes
// one index per upload (≈ 50 bytes a block), guppy splits them at 26,000
// slices.
const MaxIndex = 256 << 20

// ShardedIndex is a sharded DAG index: where each block (slice) of an upload
// lies in its shards.
type ShardedIndex struct {
	// Content is the upload's root; guppy writes a placeholder
	// (bafkqaaa, an empty identity CID) and the content is reached by
	// the CID its owner knows.
	Content cid.Cid
	Shards  []ShardSlices
}

// ShardSlices are the slices of one shard, in the order the index lists
// them (by digest).
type ShardSlices struct {
	Shard  mh.Multihash
	Slices []Slice
}

// Slice is a block's bytes within a shard: its data, not its CAR section.
type Slice struct {
	Digest         mh.Multihash
	Offset, Length uint64
}

// ErrNotIndex is matched by the error of bytes that are not an index.
var ErrNotIndex = errors.New("not a sharded DAG index")

// DecodeIndex reads an index blob whole: a CARv1 whose one root is the
// index block, with a block per shard. Every block is checked against
// its CID.
func DecodeIndex(data []byte) (*ShardedIndex, error) {
	if len(data) > MaxIndex {
		return nil, fmt.Errorf("%w: %d bytes is too large for one", ErrNotIndex, len(data))
	}
	br, err := car.NewBlockReader(bytes.NewReader(data), car.WithTrustedCAR(false),
		car.MaxAllowedHeaderSize(maxHeader), car.MaxAllowedSectionSize(MaxIndex))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotIndex, err)
	}
	if br.Version != 1 || len(br.Roots) != 1 {
		return nil, fmt.Errorf("%w: a CARv%d with %d roots", ErrNotIndex, br.Version, len(br.Roots))
	}
	blocks := map[cid.Cid][]byte{}
	for {
		b, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotIndex, err)
		}
		blocks[b.Cid()] = b.RawData()
	}
	root := br.Roots[0]
	rootData, ok := blocks[root]
	if !ok {
		return nil, fmt.Errorf("%w: root block %s missing", ErrNotIndex, root)
	}
	shards, err := decodeIndexRoot(root, rootData)
	if err != nil {
		return nil, err
	}
	ix := &ShardedIndex{Content: shards.content}
	for _, l := range shards.shards {
		data, ok := blocks[l]
		if !ok {
			return nil, fmt.Errorf("%w: shard block %s missing", ErrNotIndex, l)
		}
		s, err := decodeBlobIndex(data)
		if err != nil {
			return nil, fmt.Errorf("%w: shard block %s: %v", ErrNotIndex, l, err)
		}
		ix.Shards = append(ix.Shards, s)
	}
	return ix, nil
}

type indexRoot struct {
	content cid.Cid
	shards  []cid.Cid
}

// decodeIndexRoot reads {IndexVersion: {content: Link, shards: [Link]}}.
func decodeIndexRoot(c cid.Cid, data []byte) (indexRoot, error) {
	if c.Prefix().Codec != cid.DagCBOR || !BlockMatches(c, data) {
		return indexRoot{}, fmt.Errorf("%w: root %s is not a dag-cbor block of its CID", ErrNotIndex, c)
	}
	n, err := ipldutil.DecodeCBOR(data)
	if err != nil || n.Kind() != datamodel.Kind_Map || n.Length() != 1 {
		return indexRoot{}, fmt.Errorf("%w: root is not a one-key map", ErrNotIndex)
	}
	body, err := ipldutil.Required(n, IndexVersion)
	if err != nil {
		return indexRoot{}, fmt.Errorf("%w: %v", ErrNotIndex, err)
	}
	var r indexRoot
	if r.content, err = ipldutil.LinkField(body, "content"); err != nil {
		return indexRoot{}, fmt.Errorf("%w: %v", ErrNotIndex, err)
	}
	if r.shards, err = ipldutil.LinkList(body, "shards"); err != nil {
		return indexRoot{}, fmt.Errorf("%w: %v", ErrNotIndex, err)
	}
	return r, nil
}

// decodeBlobIndex reads [shard multihash, [[slice multihash, [offset,
// length]], ...]].
func decodeBlobIndex(data []byte) (ShardSlices, error) {
	n, err := ipldutil.DecodeCBOR(data)
	if err != nil {
		return ShardSlices{}, err
	}
	items, err := tuple(n, 2)
	if err != nil {
		return ShardSlices{}, err
	}
	var s ShardSlices
	if s.Shard, err = digest(items[0]); err != nil {
		return ShardSlices{}, fmt.Errorf("shard: %w", err)
	}
	if items[1].Kind() != datamodel.Kind_List {
		return ShardSlices{}, fmt.Errorf("slices: not a list")
	}
	it := items[1].ListIterator()
	for !it.Done() {
		i, v, err := it.Next()
		if err != nil {
			return ShardSlices{}, err
		}
		sl, err := decodeSlice(v)
		if err != nil {
			return ShardSlices{}, fmt.Errorf("slice %d: %w", i, err)
		}
		s.Slices = append(s.Slices, sl)
	}
	return s, nil
}

func decodeSlice(n datamodel.Node) (Slice, error) {
	items, err := tuple(n, 2)
	if err != nil {
		return Slice{}, err
	}
	d, err := digest(items[0])
	if err != nil {
		return Slice{}, err
	}
	pos, err := tuple(items[1], 2)
	if err != nil {
		return Slice{}, fmt.Errorf("position: %w", err)
	}
	off, err1 := pos[0].AsInt()
	length, err2 := pos[1].AsInt()
	if err1 != nil || err2 != nil || off < 0 || length < 0 {
		return Slice{}, fmt.Errorf("position: want two integers ≥ 0")
	}
	return Slice{Digest: d, Offset: uint64(off), Length: uint64(length)}, nil
}

// tuple is a list of exactly n items.
func tuple(n datamodel.Node, want int) ([]datamodel.Node, error) {
	if n.Kind() != datamodel.Kind_List || n.Length() != int64(want) {
		return nil, fmt.Errorf("want a list of %d", want)
	}
	out := make([]datamodel.Node, 0, want)
	for i := range want {
		v, err := n.LookupByIndex(int64(i))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func digest(n datamodel.Node) (mh.Multihash, error) {
	b, err := n.AsBytes()
	if err != nil {
		return nil, fmt.Errorf("want multihash bytes")
	}
	d, err := mh.Cast(b)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Block is one block of a CAR: its CID and where its data lies.
type Block struct {
	CID            cid.Cid
	Offset, Length uint64
}

// Scan streams a CARv1's block table: each section's CID and where its
// data lies in the blob, in file order. Block bytes are not checked (a
// reader hashes them against their CID when it reads them).
func Scan(r io.Reader, yield func(Block) error) error {
	br, err := car.NewBlockReader(r, car.MaxAllowedHeaderSize(maxHeader), car.MaxAllowedSectionSize(MaxSection))
	if err != nil {
		return fmt.Errorf("car: %w", err)
	}
	if br.Version != 1 {
		return fmt.Errorf("car: version %d, want 1", br.Version)
	}
	for {
		m, err := br.SkipNext()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("car: %w", err)
		}
		cidLen := uint64(m.Cid.ByteLen())
		off := m.SourceOffset + uint64(varint.UvarintSize(cidLen+m.Size)) + cidLen
		if err := yield(Block{CID: m.Cid, Offset: off, Length: m.Size}); err != nil {
			return err
		}
	}
}

// MaxSection bounds one block: IPFS blocks are at most a few MiB.
const MaxSection = 32 << 20
