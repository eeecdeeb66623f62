// Package allocationstore keeps Piri's blob allocations: which space asked
// the node to store which blob, until when, and why. Records are dag-cbor
// {space: bytes(DID), blob: {digest, size}, expires, cause: link}.
package allocationstore

import (
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/objectstore"
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

// NewDatastore is the store over Piri's LevelDB (allocation/): keys
// "/<b58 digest>/<space DID>".
func NewDatastore(objects objectstore.Store) *Store {
	return genericstore.New("allocations", objects, Codec{}, genericstore.DigestSpace{})
}

// NewS3 is the store over Piri's <prefix>allocations bucket: keys
// "<b58 digest>/<space DID>.cbor".
func NewS3(objects objectstore.Store) *Store {
	return genericstore.New("allocations", objects, Codec{}, genericstore.DigestSpace{Suffix: ".cbor"})
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
		qp.MapEntry(ma, "blob", BlobNode(a.Digest, a.Size))
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
	if a.Space, err = SpaceField(n); err != nil {
		return Allocation{}, err
	}
	if a.Digest, a.Size, err = BlobField(n); err != nil {
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

// BlobNode is the {digest, size} map allocations and acceptances share.
func BlobNode(digest mh.Multihash, size int64) qp.Assemble {
	return qp.Map(2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "digest", qp.Bytes(digest))
		qp.MapEntry(ma, "size", qp.Int(size))
	})
}

// BlobField reads the blob {digest, size} map.
func BlobField(n datamodel.Node) (mh.Multihash, int64, error) {
	blob, err := ipldutil.Required(n, "blob")
	if err != nil {
		return nil, 0, err
	}
	digest, err := ipldutil.Bytes(blob, "digest")
	if err != nil {
		return nil, 0, fmt.Errorf("blob: %w", err)
	}
	if _, err := mh.Cast(digest); err != nil {
		return nil, 0, fmt.Errorf("blob.digest: %w", err)
	}
	size, err := ipldutil.Int(blob, "size")
	if err != nil {
		return nil, 0, fmt.Errorf("blob: %w", err)
	}
	return digest, size, nil
}

// SpaceField reads the space DID (stored as principal bytes).
func SpaceField(n datamodel.Node) (string, error) {
	b, err := ipldutil.Bytes(n, "space")
	if err != nil {
		return "", err
	}
	did, err := ucan.FormatDID(b)
	if err != nil {
		return "", fmt.Errorf("space: %w", err)
	}
	return did, nil
}

// BlobJSON is the rendered blob: the digest as its /blobs name.
type BlobJSON struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

type allocationJSON struct {
	Space   string   `json:"space"`
	Blob    BlobJSON `json:"blob"`
	Expires int64    `json:"expires"`
	Cause   string   `json:"cause"`
}

// JSON renders the allocation as the mount shows it.
func (a Allocation) JSON() ([]byte, error) {
	return render.JSON(allocationJSON{
		Space: a.Space, Blob: BlobJSON{Digest: blobstore.Name(a.Digest), Size: a.Size},
		Expires: a.Expires, Cause: a.Cause.String(),
	})
}
