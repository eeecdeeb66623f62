package unixfs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/storacha/storefs/content/unixfs"
)

// Hand-made blocks: what no importer writes.

type link struct {
	name  string
	c     cid.Cid
	tsize uint64
}

func pbNode(links []link, data []byte) []byte {
	var b []byte
	for _, l := range links {
		var lb []byte
		lb = protowire.AppendTag(lb, 1, protowire.BytesType)
		lb = protowire.AppendBytes(lb, l.c.Bytes())
		lb = protowire.AppendTag(lb, 2, protowire.BytesType)
		lb = protowire.AppendString(lb, l.name)
		lb = protowire.AppendTag(lb, 3, protowire.VarintType)
		lb = protowire.AppendVarint(lb, l.tsize)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, lb)
	}
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, data)
}

type ufs struct {
	typ, filesize, hashType, fanout uint64
	data                            []byte
	sizes                           []uint64
}

func (u ufs) bytes() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, u.typ)
	if u.data != nil {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, u.data)
	}
	if u.typ == 2 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, u.filesize)
	}
	for _, s := range u.sizes {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, s)
	}
	if u.typ == 5 {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, u.hashType)
		b = protowire.AppendTag(b, 6, protowire.VarintType)
		b = protowire.AppendVarint(b, u.fanout)
	}
	return b
}

func (m *memBlocks) put(codec uint64, block []byte) cid.Cid {
	d, _ := mh.Sum(block, mh.SHA2_256, -1)
	c := cid.NewCidV1(codec, d)
	m.blocks[c] = block
	return c
}

func readAll(g unixfs.Blocks, c cid.Cid) error {
	ctx := context.Background()
	n, err := unixfs.Load(ctx, g, c)
	if err != nil {
		return err
	}
	f, err := unixfs.NewFile(g, n)
	if err != nil {
		return err
	}
	_, err = f.WriteTo(ctx, discard{}, 0)
	return err
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	g := &memBlocks{blocks: map[cid.Cid][]byte{}, gets: map[cid.Cid]int{}}
	leaf := g.put(cid.Raw, []byte("hello"))

	garbage := g.put(cid.DagProtobuf, []byte{0xff, 0x01, 0x02})
	if _, err := unixfs.Load(ctx, g, garbage); !errors.Is(err, unixfs.ErrBad) {
		t.Errorf("a dag-pb node that does not decode: %v", err)
	}
	noData := g.put(cid.DagProtobuf, []byte{})
	if _, err := unixfs.Load(ctx, g, noData); !errors.Is(err, unixfs.ErrBad) {
		t.Errorf("dag-pb with no UnixFS data: %v", err)
	}
	for name, u := range map[string]ufs{
		"fanout 100":        {typ: 5, hashType: 0x22, fanout: 100},
		"fanout 4096":       {typ: 5, hashType: 0x22, fanout: 4096},
		"hash sha2-256":     {typ: 5, hashType: 0x12, fanout: 256},
		"metadata":          {typ: 3},
		"type 9":            {typ: 9},
		"filesize disagree": {typ: 2, filesize: 7, data: []byte("abc")},
	} {
		c := g.put(cid.DagProtobuf, pbNode(nil, u.bytes()))
		if _, err := unixfs.Load(ctx, g, c); !errors.Is(err, unixfs.ErrBad) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A HAMT whose link names have no slot.
	hamt := g.put(cid.DagProtobuf, pbNode([]link{{name: "zzname", c: leaf}}, ufs{typ: 5, hashType: 0x22, fanout: 256}.bytes()))
	h, err := unixfs.Load(ctx, g, hamt)
	if err != nil {
		t.Fatal(err)
	}
	if err := unixfs.List(ctx, g, h, func(unixfs.Entry) bool { return true }); !errors.Is(err, unixfs.ErrBad) {
		t.Errorf("a HAMT link without a slot: %v", err)
	}
	// Links whose sizes disagree with their blocks.
	liar := g.put(cid.DagProtobuf, pbNode([]link{{c: leaf}}, ufs{typ: 2, filesize: 10, sizes: []uint64{10}}.bytes()))
	if err := readAll(g, liar); !errors.Is(err, unixfs.ErrBad) {
		t.Errorf("a raw leaf shorter than its parent says: %v", err)
	}
	inner := g.put(cid.DagProtobuf, pbNode([]link{{c: leaf}}, ufs{typ: 2, filesize: 5, sizes: []uint64{5}}.bytes()))
	liar2 := g.put(cid.DagProtobuf, pbNode([]link{{c: inner}}, ufs{typ: 2, filesize: 8, sizes: []uint64{8}}.bytes()))
	if err := readAll(g, liar2); !errors.Is(err, unixfs.ErrBad) {
		t.Errorf("an inner node shorter than its parent says: %v", err)
	}
	if err := readAll(g, inner); err != nil {
		t.Errorf("the honest node: %v", err)
	}
	// A chain past MaxDepth.
	c := leaf
	for range unixfs.MaxDepth + 5 {
		c = g.put(cid.DagProtobuf, pbNode([]link{{c: c}}, ufs{typ: 2, filesize: 5, sizes: []uint64{5}}.bytes()))
	}
	if err := readAll(g, c); !errors.Is(err, unixfs.ErrBad) {
		t.Errorf("a file nested past %d levels: %v", unixfs.MaxDepth, err)
	}
	// Not UnixFS.
	cbor := g.put(cid.DagCBOR, []byte{0xa0})
	if _, err := unixfs.Load(ctx, g, cbor); !errors.Is(err, unixfs.ErrNotUnixFS) {
		t.Errorf("dag-cbor: %v", err)
	}
	// An identity CID holds its own block.
	id, _ := mh.Sum([]byte("inline"), mh.IDENTITY, -1)
	n, err := unixfs.Load(ctx, g, cid.NewCidV1(cid.Raw, id))
	if err != nil || string(n.Data) != "inline" {
		t.Errorf("identity CID: %v %v", n, err)
	}
}

// A raw leaf sized elsewhere is fetched when read, and checked against
// that size.
func TestRawLeaf(t *testing.T) {
	ctx := context.Background()
	g := &memBlocks{blocks: map[cid.Cid][]byte{}, gets: map[cid.Cid]int{}}
	c := g.put(cid.Raw, []byte("hello"))
	f, err := unixfs.NewFile(g, unixfs.RawLeaf(c, 5))
	if err != nil || g.total() != 0 {
		t.Fatalf("a raw leaf opened: %v, %d fetches", err, g.total())
	}
	buf := make([]byte, 10)
	r := f.Reader(0)
	defer r.Close()
	if n, err := r.ReadAt(ctx, buf, 1); n != 4 || string(buf[:n]) != "ello" || err == nil {
		t.Fatalf("read: %d %q %v", n, buf[:n], err)
	}
	liar, _ := unixfs.NewFile(g, unixfs.RawLeaf(c, 7))
	if _, err := liar.WriteTo(ctx, discard{}, 0); !errors.Is(err, unixfs.ErrBad) {
		t.Fatalf("a raw leaf of another size than said: %v", err)
	}
}
