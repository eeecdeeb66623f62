package ipldutil_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/ipldutil"
)

func record(t *testing.T) (datamodel.Node, cid.Cid) {
	t.Helper()
	link := ipldutil.CBORCID([]byte("a block"))
	n, err := qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "s", qp.String("text"))
		qp.MapEntry(ma, "b", qp.Bytes([]byte{1, 2}))
		qp.MapEntry(ma, "i", qp.Int(-7))
		qp.MapEntry(ma, "null", qp.Null())
		qp.MapEntry(ma, "l", qp.Link(ipldutil.Link(link)))
		qp.MapEntry(ma, "ls", qp.List(2, func(la datamodel.ListAssembler) {
			qp.ListEntry(la, qp.Link(ipldutil.Link(link)))
			qp.ListEntry(la, qp.Link(ipldutil.Link(link)))
		}))
		qp.MapEntry(ma, "bad", qp.List(1, func(la datamodel.ListAssembler) { qp.ListEntry(la, qp.Int(1)) }))
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, link
}

// A node survives dag-cbor both ways, and its block is named by the
// CIDv1 dag-cbor sha2-256 of its bytes.
func TestRoundTrip(t *testing.T) {
	n, _ := record(t)
	blk, err := ipldutil.EncodeBlock(n)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := mh.Sum(blk.Data, mh.SHA2_256, -1)
	if blk.CID != cid.NewCidV1(cid.DagCBOR, sum) {
		t.Errorf("block CID %s", blk.CID)
	}
	back, err := ipldutil.DecodeCBOR(blk.Data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := ipldutil.EncodeCBOR(back)
	if !bytes.Equal(again, blk.Data) {
		t.Error("decode then encode changed the bytes")
	}
	if _, err := ipldutil.DecodeCBOR([]byte{0xff}); err == nil {
		t.Error("garbage decoded")
	}
	if _, err := ipldutil.DecodeCBOR(make([]byte, ipldutil.MaxBlock+1)); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("an oversized block: %v", err)
	}
}

// Each accessor reads its kind, names the field in its errors, and tells
// an absent field from a wrongly typed one.
func TestFields(t *testing.T) {
	n, link := record(t)
	if s, err := ipldutil.String(n, "s"); err != nil || s != "text" {
		t.Errorf("string: %q, %v", s, err)
	}
	if b, err := ipldutil.Bytes(n, "b"); err != nil || !bytes.Equal(b, []byte{1, 2}) {
		t.Errorf("bytes: %v, %v", b, err)
	}
	if i, err := ipldutil.Int(n, "i"); err != nil || i != -7 {
		t.Errorf("int: %d, %v", i, err)
	}
	if c, err := ipldutil.LinkField(n, "l"); err != nil || c != link {
		t.Errorf("link: %s, %v", c, err)
	}
	if cs, err := ipldutil.LinkList(n, "ls"); err != nil || len(cs) != 2 || cs[1] != link {
		t.Errorf("link list: %v, %v", cs, err)
	}
	for _, key := range []string{"missing", "null"} {
		if p, err := ipldutil.OptionalInt(n, key); p != nil || err != nil {
			t.Errorf("optional int %s: %v, %v", key, p, err)
		}
		if cs, err := ipldutil.LinkList(n, key); err != nil || cs == nil || len(cs) != 0 {
			t.Errorf("link list %s: %v, %v (want empty, not nil)", key, cs, err)
		}
	}
	if p, err := ipldutil.OptionalInt(n, "i"); err != nil || p == nil || *p != -7 {
		t.Errorf("optional int present: %v, %v", p, err)
	}
	if v, err := ipldutil.Field(n, "missing"); v != nil || err != nil {
		t.Errorf("absent field: %v, %v", v, err)
	}
	if _, err := ipldutil.Required(n, "missing"); !errors.Is(err, ipldutil.ErrAbsent) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("required absent field: %v", err)
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"string of bytes", func() error { _, err := ipldutil.String(n, "b"); return err }()},
		{"int of text", func() error { _, err := ipldutil.Int(n, "s"); return err }()},
		{"link of int", func() error { _, err := ipldutil.LinkField(n, "i"); return err }()},
		{"list of ints", func() error { _, err := ipldutil.LinkList(n, "bad"); return err }()},
		{"list of text", func() error { _, err := ipldutil.LinkList(n, "s"); return err }()},
		{"optional int of text", func() error { _, err := ipldutil.OptionalInt(n, "s"); return err }()},
	} {
		if c.err == nil || errors.Is(c.err, ipldutil.ErrAbsent) {
			t.Errorf("%s: %v, want a type error", c.name, c.err)
		}
	}
	if _, err := ipldutil.LinkList(n, "bad"); err == nil || !strings.Contains(err.Error(), "bad[0]") {
		t.Errorf("a bad list item is named by its index: %v", err)
	}
	if _, err := ipldutil.Field(basicnode.NewString("x"), "k"); err == nil {
		t.Error("a field of a string")
	}
}
