package uploads

import (
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"google.golang.org/protobuf/encoding/protowire"
)

// Malformed is a directory of what no importer writes, each entry made
// by hand: "garbage" (a dag-pb block that does not decode), "hamt100" (a
// HAMT directory of fanout 100), "hamtsha" (a HAMT hashed with sha2-256),
// "deep" (a file nested 70 levels), "liar" (a file whose block sizes
// say 10 bytes of a 5-byte leaf), and "ok.txt", which is fine.
func Malformed() *DAG {
	d := &DAG{Files: map[string]cid.Cid{}}
	put := func(codec uint64, data []byte) cid.Cid {
		h, _ := mh.Sum(data, mh.SHA2_256, -1)
		c := cid.NewCidV1(codec, h)
		d.Blocks = append(d.Blocks, Block{CID: c, Data: data})
		return c
	}
	leaf := put(cid.Raw, []byte("hello"))
	deep := leaf
	for range 70 {
		deep = put(cid.DagProtobuf, pbNode([]pbLink{{c: deep}}, ufsFile(5, 5)))
	}
	entries := []pbLink{
		{name: "deep", c: deep},
		{name: "garbage", c: put(cid.DagProtobuf, []byte{0xff, 0x01, 0x02})},
		{name: "hamt100", c: put(cid.DagProtobuf, pbNode(nil, ufsHAMT(0x22, 100)))},
		{name: "hamtsha", c: put(cid.DagProtobuf, pbNode(nil, ufsHAMT(0x12, 256)))},
		{name: "liar", c: put(cid.DagProtobuf, pbNode([]pbLink{{c: leaf}}, ufsFile(10, 10)))},
		{name: "ok.txt", c: put(cid.Raw, []byte("fine"))},
	}
	for _, e := range entries {
		d.Files[e.name] = e.c
	}
	var dir []byte
	dir = protowire.AppendTag(dir, 1, protowire.VarintType)
	dir = protowire.AppendVarint(dir, 1) // Directory
	d.Root = put(cid.DagProtobuf, pbNode(entries, dir))
	d.Files[""] = d.Root
	return d
}

type pbLink struct {
	name string
	c    cid.Cid
}

func pbNode(links []pbLink, data []byte) []byte {
	var b []byte
	for _, l := range links {
		var lb []byte
		lb = protowire.AppendTag(lb, 1, protowire.BytesType)
		lb = protowire.AppendBytes(lb, l.c.Bytes())
		lb = protowire.AppendTag(lb, 2, protowire.BytesType)
		lb = protowire.AppendString(lb, l.name)
		lb = protowire.AppendTag(lb, 3, protowire.VarintType)
		lb = protowire.AppendVarint(lb, 1)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, lb)
	}
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	return protowire.AppendBytes(b, data)
}

// ufsFile is a File node's data with no bytes of its own and one child
// of size child.
func ufsFile(filesize, child uint64) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 2)
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, filesize)
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	return protowire.AppendVarint(b, child)
}

func ufsHAMT(hash, fanout uint64) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 5)
	b = protowire.AppendTag(b, 5, protowire.VarintType)
	b = protowire.AppendVarint(b, hash)
	b = protowire.AppendTag(b, 6, protowire.VarintType)
	return protowire.AppendVarint(b, fanout)
}
