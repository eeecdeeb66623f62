// Package objectstore defines the small key/value-of-bytes interface that
// every storage backend of storefs implements (memory, flatfs, S3,
// go-datastore), and the helpers they share to enforce its contract.
package objectstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"time"
)

// ErrNotExist is returned (possibly wrapped) for a key that is not stored.
// It also matches fs.ErrNotExist, so callers at the filesystem edge can map
// it without knowing about this package.
var ErrNotExist = fmt.Errorf("object does not exist: %w", fs.ErrNotExist)

// ErrAccessDenied is returned (possibly wrapped) when the backend refuses
// the credentials or the request. It matches fs.ErrPermission, which the
// filesystem edge maps to EACCES.
var ErrAccessDenied = fmt.Errorf("access denied: %w", fs.ErrPermission)

// ErrRangeNotSatisfiable is matched by a *RangeError.
var ErrRangeNotSatisfiable = errors.New("range not satisfiable")

// ErrSizeMismatch is returned by Put when the reader yields more or fewer
// bytes than declared. Nothing is stored.
var ErrSizeMismatch = errors.New("object size does not match the declared size")

// ErrUnordered is KeyAfter's answer from a store that does not list in
// lexical order.
var ErrUnordered = errors.New("the store does not list keys in lexical order")

// Store is a flat namespace of immutable-ish byte objects.
type Store interface {
	// Put stores exactly size bytes read from r under key. If r yields a
	// different number of bytes, or returns an error (including on the
	// read that would report EOF), Put fails and nothing is stored.
	Put(ctx context.Context, key string, size int64, r io.Reader) error
	// Get streams the object, or the part of it selected by WithRange.
	Get(ctx context.Context, key string, opts ...GetOption) (Object, error)
	// Stat reports the object's size without reading its body.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List streams every key that starts with prefix, with its size. The
	// order is backend-defined. Iteration stops at the first error.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
	// KeyAfter is the first key after key in lexical order (ok false when
	// none follows), for a store whose List yields keys in that order; any
	// other store answers ErrUnordered. It lets a lister tell what its
	// listing will still bring, with one request.
	KeyAfter(ctx context.Context, key string) (after Info, ok bool, err error)
	// Files is the store's local-file side, or nil when its objects are
	// not plain local files. It is part of Store, not an optional
	// interface, so a wrapper that embeds a Store passes it on by
	// construction and one that must not (it changes what Get returns)
	// has to say so by overriding it.
	Files() Files
}

// Files serves objects that are plain local files (flatfs): callers may
// read the file itself (pread, FUSE passthrough) and list keys without
// a stat per key.
type Files interface {
	// OpenFile opens the file that holds key, with its size.
	OpenFile(key string) (*os.File, int64, error)
	// ListKeys is List with sizes only where sized answers true when it
	// is asked (nil: never), and Size -1 elsewhere: a stat per key is
	// most of what a local listing costs, and callers often need names
	// only, or sizes for some stretch of the listing.
	ListKeys(ctx context.Context, prefix string, sized func() bool) iter.Seq2[Info, error]
}

// Info describes a stored object.
type Info struct {
	Key  string
	Size int64
	// ModTime is when the object was stored, as the backend keeps it
	// (file mtime, S3 LastModified); zero where it keeps none (LevelDB).
	ModTime time.Time
}

// Object is the body of a Get. Size is the total size of the stored object,
// whatever range was requested; the reader yields only the range.
type Object interface {
	io.ReadCloser
	Size() int64
	// ModTime is the object's Info.ModTime, from the same answer.
	ModTime() time.Time
}

// Range is an inclusive byte range with HTTP semantics: End < 0 means "to
// the end of the object"; an End past the end is clamped.
type Range struct {
	Start int64
	End   int64
}

// Bytes selects bytes start..end inclusive.
func Bytes(start, end int64) Range { return Range{Start: start, End: end} }

// From selects bytes from start to the end of the object.
func From(start int64) Range { return Range{Start: start, End: -1} }

func (r Range) String() string {
	if r.End < 0 {
		return fmt.Sprintf("bytes=%d-", r.Start)
	}
	return fmt.Sprintf("bytes=%d-%d", r.Start, r.End)
}

// Resolve checks r against an object of the given total size and returns
// the offset and length to read.
func (r Range) Resolve(size int64) (offset, length int64, err error) {
	if r.Start < 0 || (r.End >= 0 && r.End < r.Start) || r.Start >= size {
		return 0, 0, &RangeError{Range: r, Size: size}
	}
	end := r.End
	if end < 0 || end >= size {
		end = size - 1
	}
	return r.Start, end - r.Start + 1, nil
}

// RangeError reports a range that selects no byte of the object.
type RangeError struct {
	Range Range
	Size  int64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("range %s not satisfiable for object of %d bytes", e.Range, e.Size)
}

func (e *RangeError) Is(target error) bool { return target == ErrRangeNotSatisfiable }

// GetOption configures a Get.
type GetOption func(*GetConfig)

// GetConfig is the resolved form of a Get's options, for backends.
type GetConfig struct {
	Range *Range
}

// WithRange makes Get return only the bytes of r.
func WithRange(r Range) GetOption {
	return func(c *GetConfig) { c.Range = &r }
}

// NewGetConfig applies opts.
func NewGetConfig(opts ...GetOption) GetConfig {
	var c GetConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Window returns the offset and length a Get with this config reads from an
// object of the given size.
func (c GetConfig) Window(size int64) (offset, length int64, err error) {
	if c.Range == nil {
		return 0, size, nil
	}
	return c.Range.Resolve(size)
}
