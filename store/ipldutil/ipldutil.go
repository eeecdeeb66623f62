// Package ipldutil holds the small IPLD helpers the record decoders share:
// dag-cbor in and out, block CIDs, and field accessors that name the field
// in their errors.
package ipldutil

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"
)

// MaxBlock bounds what the decoders accept: UCAN blocks and receipts are KB
// sized, and a hostile length must not make us allocate gigabytes.
const MaxBlock = 4 << 20

// DecodeCBOR parses a dag-cbor block into a generic node.
func DecodeCBOR(b []byte) (datamodel.Node, error) {
	if len(b) > MaxBlock {
		return nil, fmt.Errorf("dag-cbor block of %d bytes is too large", len(b))
	}
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := (dagcbor.DecodeOptions{AllowLinks: true}).Decode(nb, bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("dag-cbor: %w", err)
	}
	return nb.Build(), nil
}

// EncodeCBOR writes a node as dag-cbor (keys sorted as dag-cbor requires).
func EncodeCBOR(n datamodel.Node) ([]byte, error) {
	var buf bytes.Buffer
	if err := dagcbor.Encode(n, &buf); err != nil {
		return nil, fmt.Errorf("dag-cbor encode: %w", err)
	}
	return buf.Bytes(), nil
}

// CBORCID is the CIDv1 dag-cbor sha2-256 of a block.
func CBORCID(block []byte) cid.Cid {
	c, _ := cid.Prefix{Version: 1, Codec: cid.DagCBOR, MhType: mh.SHA2_256, MhLength: -1}.Sum(block)
	return c
}

// Block is a CID and its bytes.
type Block struct {
	CID  cid.Cid
	Data []byte
}

// EncodeBlock encodes n and names it.
func EncodeBlock(n datamodel.Node) (Block, error) {
	data, err := EncodeCBOR(n)
	if err != nil {
		return Block{}, err
	}
	return Block{CID: CBORCID(data), Data: data}, nil
}

// Field accessors: each names the field in its error, and tells an absent
// field (nil, nil) from a wrongly typed one.

var ErrAbsent = errors.New("absent")

func Field(n datamodel.Node, key string) (datamodel.Node, error) {
	if n.Kind() != datamodel.Kind_Map {
		return nil, fmt.Errorf("expected a map, found %s", n.Kind())
	}
	v, err := n.LookupByString(key)
	if err != nil {
		var nf datamodel.ErrNotExists
		if errors.As(err, &nf) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
}

func Required(n datamodel.Node, key string) (datamodel.Node, error) {
	v, err := Field(n, key)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("%s: %w", key, ErrAbsent)
	}
	return v, nil
}

func String(n datamodel.Node, key string) (string, error) {
	v, err := Required(n, key)
	if err != nil {
		return "", err
	}
	s, err := v.AsString()
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return s, nil
}

func Bytes(n datamodel.Node, key string) ([]byte, error) {
	v, err := Required(n, key)
	if err != nil {
		return nil, err
	}
	b, err := v.AsBytes()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return b, nil
}

// Int reads an integer field.
func Int(n datamodel.Node, key string) (int64, error) {
	v, err := Required(n, key)
	if err != nil {
		return 0, err
	}
	i, err := v.AsInt()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return i, nil
}

// optionalInt reads an integer that may be absent or null.
func OptionalInt(n datamodel.Node, key string) (*int64, error) {
	v, err := Field(n, key)
	if err != nil || v == nil || v.IsNull() {
		return nil, err
	}
	i, err := v.AsInt()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return &i, nil
}

func AsLink(v datamodel.Node, what string) (cid.Cid, error) {
	l, err := v.AsLink()
	if err != nil {
		return cid.Undef, fmt.Errorf("%s: %w", what, err)
	}
	cl, ok := l.(cidlink.Link)
	if !ok {
		return cid.Undef, fmt.Errorf("%s: not a CID link", what)
	}
	return cl.Cid, nil
}

func LinkField(n datamodel.Node, key string) (cid.Cid, error) {
	v, err := Required(n, key)
	if err != nil {
		return cid.Undef, err
	}
	return AsLink(v, key)
}

// linkList reads a list of links; absent means empty.
func LinkList(n datamodel.Node, key string) ([]cid.Cid, error) {
	v, err := Field(n, key)
	if err != nil || v == nil || v.IsNull() {
		return []cid.Cid{}, err
	}
	if v.Kind() != datamodel.Kind_List {
		return nil, fmt.Errorf("%s: expected a list, found %s", key, v.Kind())
	}
	out := make([]cid.Cid, 0, v.Length())
	it := v.ListIterator()
	for !it.Done() {
		i, item, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		c, err := AsLink(item, fmt.Sprintf("%s[%d]", key, i))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Link makes a link node.
func Link(c cid.Cid) datamodel.Link { return cidlink.Link{Cid: c} }
