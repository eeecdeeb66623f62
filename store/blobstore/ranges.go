package blobstore

import (
	"context"
	"io"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/objectstore"
)

// Ranges reads byte ranges of one blob: bytes [off, off+n), fewer only
// where the blob ends. It is the read stack's one interface: the store
// implements it (RangesOf), and each layer above it (the disk cache, the
// outboard check) is a Ranges wrapping the one below, so a read's offset
// only ever goes down the stack.
type Ranges interface {
	ReadRange(ctx context.Context, off, n int64) (io.ReadCloser, error)
}

// RangeFunc is a function that reads ranges.
type RangeFunc func(ctx context.Context, off, n int64) (io.ReadCloser, error)

func (f RangeFunc) ReadRange(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	return f(ctx, off, n)
}

// RangesOf is digest's ranges as s stores them: one ranged Get each.
func RangesOf(s Store, digest mh.Multihash) Ranges { return storedRanges{s, digest} }

type storedRanges struct {
	s      Store
	digest mh.Multihash
}

func (r storedRanges) ReadRange(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	return r.s.Get(ctx, r.digest, objectstore.WithRange(objectstore.Bytes(off, off+n-1)))
}
