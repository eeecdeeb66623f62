// Package readstack is how a blob's bytes are read, whoever reads them:
// the read stack of one blob is composed here, once, when the blob is
// opened, from layers that each implement blobstore.Ranges over the one
// below:
//
//	outboard check (--verify, once the blob was verified whole)
//	disk cache (--cache-dir, remote stores)
//	blob store → backend
//
// Above the ranges, Serve checks the bytes handed to a reader against
// the blob's multihash under --verify (blobVerifier), whatever order they
// come in. Read-ahead (prefetch) and the filesystem consume a Blob; the
// stack knows nothing of either, and nothing in it calls back up.
package readstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/helpers/metrics"
	"github.com/storacha/storefs/store/blobcache"
	"github.com/storacha/storefs/store/blobstore"
)

// Config is what every blob's stack is made of.
type Config struct {
	Blobs blobstore.Store
	// Cache keeps fetched bytes on local disk, and the outboards of
	// blobs verified whole; nil: none.
	Cache *blobcache.Cache
	// Verify checks every blob read whole against its multihash, and
	// refuses the read that completes a corrupt one and every later one.
	Verify  bool
	Log     *slog.Logger
	Metrics *metrics.Metrics // nil: none
}

// Stack opens the read stacks of one mount's blobs.
type Stack struct {
	cfg Config
	// corrupt holds the blobs --verify found corrupt: string(digest).
	corrupt sync.Map
}

// New makes a stack.
func New(cfg Config) *Stack {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Stack{cfg: cfg}
}

// ErrRefused is matched by the error of a read --verify refuses: the blob
// is corrupt, or cannot be verified. It was logged, once per blob.
var ErrRefused = errors.New("refused under --verify")

// Blob is one blob's read stack. It is cheap until Open, and keeps what
// --verify learnt of the blob for as long as the caller keeps it.
type Blob struct {
	s      *Stack
	digest mh.Multihash
	size   int64
	// stored reads the store, through the cache when there is one.
	stored blobstore.Ranges

	mu    sync.Mutex
	users int // Opens not yet Closed
	// cached is the blob's cache entry while it has users.
	cached *blobcache.Handle
	// verifier checks the blob under --verify until its verdict, and
	// refuses it after a bad one.
	verifier atomic.Pointer[blobVerifier]
	// outboard checks every range read under --verify with a cache dir,
	// once the blob was verified whole.
	outboard atomic.Pointer[blobcache.Outboard]
}

// Blob is the read stack of a blob of size bytes.
func (s *Stack) Blob(digest mh.Multihash, size int64) *Blob {
	b := &Blob{s: s, digest: digest, size: size, stored: blobstore.RangesOf(s.cfg.Blobs, digest)}
	if s.cfg.Cache != nil {
		b.stored = s.cfg.Cache.Ranges(digest, size, b.stored)
	}
	return b
}

// Open readies the blob for one more reader: its cache entry, and under
// --verify what checks it. A blob --verify refuses is an ErrRefused.
func (b *Blob) Open() error {
	if b.Corrupt() {
		return b.refused()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.s.cfg.Cache
	if c != nil && b.cached == nil {
		h, err := c.Acquire(b.digest, b.size)
		if err != nil {
			b.s.cfg.Log.Warn("cache: serving the blob without it", "blob", blobstore.Name(b.digest), "err", err)
		}
		b.cached = h
	}
	if b.s.cfg.Verify && c != nil && b.outboard.Load() == nil {
		if o := c.Outboard(b.digest, b.size); o != nil {
			b.outboard.Store(o) // every range is checked: no whole-blob verifier
		}
	}
	if b.s.cfg.Verify && b.verifier.Load() == nil && b.outboard.Load() == nil {
		var keep func(*blobcache.Outboard)
		if c != nil {
			keep = b.keepOutboard
		}
		v, err := newBlobVerifier(b.digest, b.size, b, keep)
		if err != nil {
			// Serving bytes --verify cannot check would be a silent skip.
			b.s.cfg.Log.Error("cannot verify blob; refusing to serve it under --verify", "blob", blobstore.Name(b.digest), "err", err)
			b.releaseCached()
			return fmt.Errorf("blob %s: %w: %w", blobstore.Name(b.digest), ErrRefused, err)
		}
		if _, err := v.Verdict(); err != nil { // an empty blob is decided at once
			b.releaseCached()
			return b.failed(err)
		}
		b.verifier.Store(v)
	}
	b.users++
	return nil
}

// Close lets the blob's cache entry go with its last reader. Bytes served
// while its verdict is open were not verified when they were read (a
// partial read): they are counted.
func (b *Blob) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.users--; b.users > 0 {
		return
	}
	if v := b.verifier.Load(); v != nil {
		if done, _ := v.Verdict(); !done {
			b.s.cfg.Metrics.UnverifiedReads(v.TakeUnverified())
		}
	}
	b.releaseCached()
}

// releaseCached lets the cache entry go when no reader is left. b.mu is
// held.
func (b *Blob) releaseCached() {
	if b.cached != nil && b.users == 0 {
		b.cached.Release()
		b.cached = nil
	}
}

// Idle says whether the blob holds nothing worth keeping: no reader, and
// nothing --verify learnt.
func (b *Blob) Idle() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.users == 0 && b.verifier.Load() == nil && b.outboard.Load() == nil
}

// ReadRange reads the blob through its stack.
func (b *Blob) ReadRange(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	o := b.outboard.Load()
	if o == nil {
		return b.stored.ReadRange(ctx, off, n)
	}
	body, err := o.Check(b.stored).ReadRange(ctx, off, n)
	if err != nil {
		return nil, err
	}
	return &refusing{ReadCloser: body, b: b}, nil
}

// refusing turns a range that fails its outboard into ErrRefused, and
// the blob corrupt for good.
type refusing struct {
	io.ReadCloser
	b *Blob
}

func (r *refusing) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if errors.Is(err, blobcache.ErrMismatch) {
		err = r.b.failed(err)
	}
	return n, err
}

// Serve is told of bytes about to be handed to a reader: under --verify
// they are checked (blobVerifier), and an error says they must not be.
func (b *Blob) Serve(ctx context.Context, data []byte, off int64) error {
	if v := b.verifier.Load(); v != nil {
		if err := v.Serve(ctx, data, off); err != nil {
			return b.failed(err)
		}
	}
	b.s.cfg.Metrics.Served(len(data))
	return nil
}

// Corrupt says whether --verify found the blob corrupt. It is asked on
// every read: without --verify nothing is ever corrupt, and the map
// lookup (which boxes the digest) is skipped.
func (b *Blob) Corrupt() bool {
	if !b.s.cfg.Verify {
		return false
	}
	_, bad := b.s.corrupt.Load(string(b.digest))
	return bad
}

// CachedFile opens the cache file of a blob whose every byte is cached,
// for a reader that reads it itself; nil when it is not all there, or
// under --verify, where every byte must pass the check.
func (b *Blob) CachedFile() *os.File {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cached == nil || b.s.cfg.Verify || !b.cached.Complete() {
		return nil
	}
	file, err := b.cached.File()
	if err != nil {
		b.s.cfg.Log.Warn("cache: cannot open a cached blob; serving it from the store", "blob", blobstore.Name(b.digest), "err", err)
		return nil
	}
	return file
}

// keepOutboard stores the outboard of a blob read whole and verified.
func (b *Blob) keepOutboard(o *blobcache.Outboard) {
	if err := b.s.cfg.Cache.PutOutboard(b.digest, o); err != nil {
		b.s.cfg.Log.Warn("cache: outboard not kept; partial reads of the blob stay unverified", "blob", blobstore.Name(b.digest), "err", err)
		return
	}
	b.outboard.Store(o)
}

// failed is the error of a read the verifier refused. A corrupt blob is
// remembered for the life of the stack (a new Blob of it fails too) and
// logged once; any other failure (a fetch for the catch-up) is returned
// as it is, and decides nothing.
func (b *Blob) failed(err error) error {
	if !errors.Is(err, errBlobCorrupt) && !errors.Is(err, blobcache.ErrMismatch) {
		return err
	}
	if _, seen := b.s.corrupt.LoadOrStore(string(b.digest), true); !seen {
		b.s.cfg.Log.Error("verify failed; every read of the blob fails from now on", "blob", blobstore.Name(b.digest), "err", err)
	}
	return b.refused()
}

func (b *Blob) refused() error {
	return fmt.Errorf("blob %s: %w: %w", blobstore.Name(b.digest), ErrRefused, errBlobCorrupt)
}
