package uploads

import (
	"bytes"
	"fmt"
	"slices"
	"sort"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"
	"github.com/multiformats/go-varint"
)

// The clients' shard sizes.
const (
	JSShardSize    = 133_169_152 // @storacha/upload-client
	GuppyShardSize = 254 << 20   // guppy
	// GuppyMaxSlices is how many slices guppy puts in one index blob.
	GuppyMaxSlices = 26_000
)

// Placeholder is the content CID guppy's indexes name (bafkqaaa: an
// empty identity CID); the content is reached by the CID its owner knows.
var Placeholder = cid.MustParse("bafkqaaa")

// Blob is a blob as a node stores it: named by the sha2-256 multihash of
// its bytes.
type Blob struct {
	Digest mh.Multihash
	Data   []byte
}

// Slice is where a block's data lies in a shard.
type Slice struct {
	Shard          mh.Multihash
	Offset, Length uint64
}

// Upload is what a client sends the network for one DAG.
type Upload struct {
	Root    cid.Cid
	Shards  []Blob
	Indexes []Blob
	// Slices are where every block's data is, by its multihash.
	Slices map[string]Slice
}

// Framing is how a shard lays its blocks out.
type Framing int

const (
	// CAR: a CARv1 (the clients' default).
	CAR Framing = iota
	// Filepack: block bytes back to back, no header.
	Filepack
)

// Pack is how a client packs a DAG.
type Pack struct {
	ShardSize int64
	Framing   Framing
	// RootsInLast: the JS client names the root in its last shard's
	// header; guppy names none.
	RootsInLast bool
	// Placeholder: guppy's index names Placeholder, not the root.
	Placeholder bool
	// ShardSelfSlice: the JS client's index holds each shard's own
	// slice [0, size].
	ShardSelfSlice bool
	// MaxSlices splits the index over blobs of at most this many slices
	// (guppy); 0: one index blob.
	MaxSlices int
	// RootFirst streams the root block first, then the rest, as the JS
	// client's uploadCAR does with a CAR exported root first (ipfs dag
	// export); uploadFile and uploadDirectory send it last.
	RootFirst bool
}

// JS packs as @storacha/upload-client does, at shardSize (JSShardSize in
// production; tests use smaller).
func JS(shardSize int64) Pack {
	return Pack{ShardSize: shardSize, RootsInLast: true, ShardSelfSlice: true}
}

// Guppy packs as guppy does.
func Guppy(shardSize int64, maxSlices int) Pack {
	return Pack{ShardSize: shardSize, Placeholder: true, MaxSlices: maxSlices}
}

// Pack cuts the DAG's blocks, in their order, into shards of at most
// ShardSize bytes and writes the index over them.
func (p Pack) Pack(d *DAG) (*Upload, error) {
	u := &Upload{Root: d.Root, Slices: map[string]Slice{}}
	type placed struct {
		digest         mh.Multihash
		offset, length uint64
	}
	var shards [][]Block
	var cur []Block
	size := p.headerLen(d.Root)
	order := d.Blocks
	if p.RootFirst && len(order) > 0 {
		order = append([]Block{order[len(order)-1]}, order[:len(order)-1]...)
	}
	for _, b := range order {
		n := p.sectionLen(b)
		if len(cur) > 0 && size+n > p.ShardSize {
			shards = append(shards, cur)
			cur, size = nil, p.headerLen(d.Root)
		}
		cur = append(cur, b)
		size += n
	}
	if len(cur) > 0 {
		shards = append(shards, cur)
	}
	type shardSlices struct {
		shard  mh.Multihash
		slices []placed
	}
	var all []shardSlices
	for i, blocks := range shards {
		var roots []cid.Cid
		if p.RootsInLast && i == len(shards)-1 {
			roots = []cid.Cid{d.Root}
		}
		data, offsets, err := p.write(roots, blocks)
		if err != nil {
			return nil, err
		}
		digest, _ := mh.Sum(data, mh.SHA2_256, -1)
		u.Shards = append(u.Shards, Blob{Digest: digest, Data: data})
		ss := shardSlices{shard: digest}
		for j, b := range blocks {
			sl := placed{b.CID.Hash(), offsets[j], uint64(len(b.Data))}
			ss.slices = append(ss.slices, sl)
			u.Slices[string(sl.digest)] = Slice{digest, sl.offset, sl.length}
		}
		if p.ShardSelfSlice {
			ss.slices = append(ss.slices, placed{digest, 0, uint64(len(data))})
		}
		sort.Slice(ss.slices, func(a, b int) bool { return bytes.Compare(ss.slices[a].digest, ss.slices[b].digest) < 0 })
		all = append(all, ss)
	}
	content := d.Root
	if p.Placeholder {
		content = Placeholder
	}
	// Index blobs: every shard's slices, cut at MaxSlices per blob.
	var groups [][]shardSlices
	var group []shardSlices
	count := 0
	for _, ss := range all {
		for len(ss.slices) > 0 {
			take := len(ss.slices)
			if p.MaxSlices > 0 {
				take = min(take, p.MaxSlices-count)
			}
			group = append(group, shardSlices{ss.shard, ss.slices[:take]})
			ss.slices = ss.slices[take:]
			count += take
			if p.MaxSlices > 0 && count == p.MaxSlices {
				groups, group, count = append(groups, group), nil, 0
			}
		}
	}
	if len(group) > 0 || len(groups) == 0 {
		groups = append(groups, group)
	}
	for _, g := range groups {
		var entries []indexEntry
		for _, ss := range g {
			e := indexEntry{shard: ss.shard}
			for _, sl := range ss.slices {
				e.slices = append(e.slices, [3]any{sl.digest, sl.offset, sl.length})
			}
			entries = append(entries, e)
		}
		data, err := writeIndex(content, entries)
		if err != nil {
			return nil, err
		}
		digest, _ := mh.Sum(data, mh.SHA2_256, -1)
		u.Indexes = append(u.Indexes, Blob{Digest: digest, Data: data})
	}
	return u, nil
}

// headerLen is a CAR header's length with room for the root (which only
// the last shard names, but any shard may turn out to be the last).
func (p Pack) headerLen(root cid.Cid) int64 {
	if p.Framing == Filepack {
		return 0
	}
	h, _ := carHeader([]cid.Cid{root})
	return int64(len(h))
}

func (p Pack) sectionLen(b Block) int64 {
	if p.Framing == Filepack {
		return int64(len(b.Data))
	}
	n := uint64(len(b.CID.Bytes()) + len(b.Data))
	return int64(varint.UvarintSize(n)) + int64(n)
}

// write lays blocks out, returning each block's data offset.
func (p Pack) write(roots []cid.Cid, blocks []Block) ([]byte, []uint64, error) {
	var buf bytes.Buffer
	if p.Framing == CAR {
		h, err := carHeader(roots)
		if err != nil {
			return nil, nil, err
		}
		buf.Write(h)
	}
	offsets := make([]uint64, len(blocks))
	for i, b := range blocks {
		if p.Framing == CAR {
			c := b.CID.Bytes()
			buf.Write(varint.ToUvarint(uint64(len(c) + len(b.Data))))
			buf.Write(c)
		}
		offsets[i] = uint64(buf.Len())
		buf.Write(b.Data)
	}
	return buf.Bytes(), offsets, nil
}

// carHeader is varint(len) + dag-cbor {roots: [...], version: 1}.
func carHeader(roots []cid.Cid) ([]byte, error) {
	n, err := qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "roots", qp.List(int64(len(roots)), func(la datamodel.ListAssembler) {
			for _, r := range roots {
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: r}))
			}
		}))
		qp.MapEntry(ma, "version", qp.Int(1))
	})
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	if err := dagcbor.Encode(n, &body); err != nil {
		return nil, err
	}
	return append(varint.ToUvarint(uint64(body.Len())), body.Bytes()...), nil
}

type indexEntry struct {
	shard  mh.Multihash
	slices [][3]any // digest, offset, length
}

// IndexShard is a shard's part of an index: where each block lies in it.
type IndexShard struct {
	Shard  mh.Multihash
	Slices []IndexSlice
}

// IndexSlice is a block's place in its shard.
type IndexSlice struct {
	Digest         mh.Multihash
	Offset, Length uint64
}

// EncodeIndex writes the index blob of content over shards, as the
// clients write it (slices sorted by digest within each shard).
func EncodeIndex(content cid.Cid, shards []IndexShard) ([]byte, error) {
	var entries []indexEntry
	for _, s := range shards {
		sl := slices.Clone(s.Slices)
		sort.Slice(sl, func(a, b int) bool { return bytes.Compare(sl[a].Digest, sl[b].Digest) < 0 })
		e := indexEntry{shard: s.Shard}
		for _, x := range sl {
			e.slices = append(e.slices, [3]any{x.Digest, x.Offset, x.Length})
		}
		entries = append(entries, e)
	}
	return writeIndex(content, entries)
}

// writeIndex is the index CAR: the root block first, then a BlobIndex
// block per shard, in shard-digest order (as @storacha/blob-index's
// archive writes it).
func writeIndex(content cid.Cid, entries []indexEntry) ([]byte, error) {
	sort.Slice(entries, func(a, b int) bool { return bytes.Compare(entries[a].shard, entries[b].shard) < 0 })
	var blocks []Block
	var links []cid.Cid
	for _, e := range entries {
		n, err := qp.BuildList(basicnode.Prototype.Any, 2, func(la datamodel.ListAssembler) {
			qp.ListEntry(la, qp.Bytes(e.shard))
			qp.ListEntry(la, qp.List(int64(len(e.slices)), func(la datamodel.ListAssembler) {
				for _, s := range e.slices {
					qp.ListEntry(la, qp.List(2, func(la datamodel.ListAssembler) {
						qp.ListEntry(la, qp.Bytes(s[0].(mh.Multihash)))
						qp.ListEntry(la, qp.List(2, func(la datamodel.ListAssembler) {
							qp.ListEntry(la, qp.Int(int64(s[1].(uint64))))
							qp.ListEntry(la, qp.Int(int64(s[2].(uint64))))
						}))
					}))
				}
			}))
		})
		if err != nil {
			return nil, err
		}
		b, err := cborBlock(n)
		if err != nil {
			return nil, err
		}
		blocks, links = append(blocks, b), append(links, b.CID)
	}
	root, err := qp.BuildMap(basicnode.Prototype.Any, 1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "index/sharded/dag@0.1", qp.Map(2, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "content", qp.Link(cidlink.Link{Cid: content}))
			qp.MapEntry(ma, "shards", qp.List(int64(len(links)), func(la datamodel.ListAssembler) {
				for _, l := range links {
					qp.ListEntry(la, qp.Link(cidlink.Link{Cid: l}))
				}
			}))
		}))
	})
	if err != nil {
		return nil, err
	}
	rb, err := cborBlock(root)
	if err != nil {
		return nil, err
	}
	data, _, err := Pack{Framing: CAR}.write([]cid.Cid{rb.CID}, append([]Block{rb}, blocks...))
	if err != nil {
		return nil, fmt.Errorf("index car: %w", err)
	}
	return data, nil
}

func cborBlock(n datamodel.Node) (Block, error) {
	var buf bytes.Buffer
	if err := dagcbor.Encode(n, &buf); err != nil {
		return Block{}, err
	}
	c, err := cid.Prefix{Version: 1, Codec: cid.DagCBOR, MhType: mh.SHA2_256, MhLength: -1}.Sum(buf.Bytes())
	return Block{CID: c, Data: buf.Bytes()}, err
}
