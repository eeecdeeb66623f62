// Package allocationstore keeps Piri's blob allocations: which space asked
// the node to store which blob, until when, and why. Records are dag-cbor
// {space: bytes(DID), blob: {digest, size}, expires, cause: link}.
package allocationstore

import (
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/recordfield"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/render"
	"github.com/storacha/storefs/store/ucan"
)

// Allocation is one record.
type Allocation struct {
	Space   string // DID
	Digest  mh.Multihash
	Size    int64
	Expires int64
	Cause   cid.Cid
}

// ID is the record's name in the mount: "<b32>/<space DID>".
func (a Allocation) ID() string { return blobstore.Name(a.Digest) + "/" + a.Space }

// Store is the allocation store.
type Store = genericstore.Store[Allocation]

// New is the store over objects, Piri's allocation/ LevelDB or its
// <prefix>allocations bucket (keys: recordkind.Allocations).
func New(objects objectstore.Store, b recordkind.Backend) *Store {
	k := recordkind.Allocations
	return genericstore.New(k.Name, objects, Codec{}, k.Keys(b))
}

// Codec is the dag-cbor encoding.
type Codec struct{}

func (Codec) Encode(a Allocation) ([]byte, error) {
	space, err := ucan.ParseDID(a.Space)
	if err != nil {
		return nil, err
	}
	n, err := qp.BuildMap(basicnode.Prototype.Any, 4, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "space", qp.Bytes(space))
		qp.MapEntry(ma, "blob", recordfield.BlobNode(a.Digest, a.Size))
		qp.MapEntry(ma, "expires", qp.Int(a.Expires))
		qp.MapEntry(ma, "cause", qp.Link(ipldutil.Link(a.Cause)))
	})
	if err != nil {
		return nil, err
	}
	return ipldutil.EncodeCBOR(n)
}

func (Codec) Decode(_ string, data []byte) (Allocation, error) {
	n, err := ipldutil.DecodeCBOR(data)
	if err != nil {
		return Allocation{}, err
	}
	var a Allocation
	if a.Space, err = recordfield.Space(n); err != nil {
		return Allocation{}, err
	}
	if a.Digest, a.Size, err = recordfield.Blob(n); err != nil {
		return Allocation{}, err
	}
	if a.Expires, err = ipldutil.Int(n, "expires"); err != nil {
		return Allocation{}, err
	}
	if a.Cause, err = ipldutil.LinkField(n, "cause"); err != nil {
		return Allocation{}, err
	}
	return a, nil
}

type allocationJSON struct {
	Space   string               `json:"space"`
	Blob    recordfield.BlobJSON `json:"blob"`
	Expires int64                `json:"expires"`
	Cause   string               `json:"cause"`
}

// JSON renders the allocation as the mount shows it.
func (a Allocation) JSON() ([]byte, error) {
	return render.JSON(allocationJSON{
		Space: a.Space, Blob: recordfield.BlobJSONOf(a.Digest, a.Size),
		Expires: a.Expires, Cause: a.Cause.String(),
	})
}
