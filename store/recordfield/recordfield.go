// Package recordfield holds the codec pieces several record kinds share:
// the blob {digest, size} map and the space DID of allocations and
// acceptances, and the blob as rendered.
package recordfield

import (
	"fmt"

	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/ucan"
)

// BlobNode is the blob {digest, size} map.
func BlobNode(digest mh.Multihash, size int64) qp.Assemble {
	return qp.Map(2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "digest", qp.Bytes(digest))
		qp.MapEntry(ma, "size", qp.Int(size))
	})
}

// Blob reads the blob {digest, size} map.
func Blob(n datamodel.Node) (mh.Multihash, int64, error) {
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

// Space reads the space DID (stored as principal bytes).
func Space(n datamodel.Node) (string, error) {
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

// BlobJSONOf is a blob as rendered.
func BlobJSONOf(digest mh.Multihash, size int64) BlobJSON {
	return BlobJSON{Digest: blobstore.Name(digest), Size: size}
}
