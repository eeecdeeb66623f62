package readstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobcache"
	"github.com/storacha/storefs/store/blobstore"
)

// blobVerifier checks one blob against its multihash under --verify,
// whatever order its bytes are read in and however many open files read
// them. The kernel's read-ahead sends READs out of order, and several
// handles share one page cache, so no single handle sees a blob in
// order: verification belongs to the blob.
//
// Bytes served in order from the start are hashed as they pass. Bytes
// served ahead of that point are kept (up to maxPending) until the hash
// reaches them. The READ that makes the served pages cover the whole blob
// does not return before the hash is complete: what was not kept is read
// again from the store, and a mismatch fails that READ and every later
// one.
type blobVerifier struct {
	size  int64
	name  string
	fetch blobstore.Ranges

	// onGood is given the blob's outboard when it matched; nil: none made.
	onGood func(*blobcache.Outboard)
	ob     *blobcache.OutboardBuilder

	mu      sync.Mutex
	h       *blobstore.Verifier
	w       io.Writer // h, and ob when there is one
	hashed  int64     // bytes [0, hashed) are hashed
	pending []segment // served bytes past hashed, in order of offset
	kept    int64     // bytes in pending
	pages   []uint64  // served pages (pageSize), a bit each
	served  int64     // pages marked
	verdict error     // once decided: nil in good, errBlobCorrupt or a fetch failure
	done    bool
	// unverified counts READs served before the verdict, not yet
	// reported (storefs_unverified_reads_total).
	unverified int64
}

type segment struct {
	off  int64
	data []byte
}

// pageSize is the unit the kernel reads a page-cached file in.
const pageSize = 4096

// maxPending bounds the out-of-order bytes kept per blob: a few times the
// kernel's read-ahead window, past which the catch-up reads them again.
const maxPending = 8 << 20

var errBlobCorrupt = errors.New("blob bytes do not match their multihash")

// newBlobVerifier checks the blob read through fetch. With keep, it also
// hashes each chunk of the blob, and hands the outboard to keep once the
// whole matched.
func newBlobVerifier(digest mh.Multihash, size int64, fetch blobstore.Ranges, keep func(*blobcache.Outboard)) (*blobVerifier, error) {
	h, err := blobstore.NewVerifier(digest)
	if err != nil {
		return nil, err
	}
	v := &blobVerifier{size: size, name: blobstore.Name(digest), fetch: fetch, h: h, w: h, pages: make([]uint64, (pages(size)+63)/64)}
	if keep != nil {
		v.onGood, v.ob = keep, blobcache.NewOutboardBuilder(size)
		v.w = io.MultiWriter(h, v.ob)
	}
	if size == 0 {
		v.finish()
	}
	return v, nil
}

func pages(size int64) int64 { return (size + pageSize - 1) / pageSize }

// Verdict is the blob's state: decided, and if so nil when it is intact.
func (v *blobVerifier) Verdict() (done bool, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.done, v.verdict
}

// Serve is told of bytes about to be returned to a reader. It returns an
// error when they must not be: the blob is corrupt, or this READ completes
// the blob and its hash could not be finished.
func (v *blobVerifier) Serve(ctx context.Context, data []byte, off int64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.done {
		return v.verdict
	}
	v.unverified++
	end := off + int64(len(data))
	switch {
	case off <= v.hashed && end > v.hashed:
		v.hash(data[v.hashed-off:])
		v.drain()
	case off > v.hashed && v.kept+int64(len(data)) <= maxPending:
		v.keep(off, data)
	}
	v.mark(off, end)
	if v.served < pages(v.size) && v.hashed < v.size {
		return nil
	}
	// This READ completes the blob: finish the hash before it returns.
	if err := v.catchUp(ctx); err != nil {
		return err // a failed fetch decides nothing: a later READ retries
	}
	v.finish()
	return v.verdict
}

// TakeUnverified returns the READs served while the verdict was open, and
// counts them as reported.
func (v *blobVerifier) TakeUnverified() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := v.unverified
	v.unverified = 0
	return n
}

func (v *blobVerifier) hash(p []byte) {
	v.w.Write(p)
	v.hashed += int64(len(p))
}

// keep holds bytes served ahead of the hash, in order of offset.
func (v *blobVerifier) keep(off int64, data []byte) {
	i := len(v.pending)
	for i > 0 && v.pending[i-1].off > off {
		i--
	}
	v.pending = append(v.pending, segment{})
	copy(v.pending[i+1:], v.pending[i:])
	v.pending[i] = segment{off: off, data: append([]byte(nil), data...)}
	v.kept += int64(len(data))
}

// drain hashes kept bytes the hash has reached, and lets go of those it
// has passed.
func (v *blobVerifier) drain() {
	keep := v.pending[:0]
	for _, s := range v.pending {
		end := s.off + int64(len(s.data))
		if s.off <= v.hashed && end > v.hashed {
			v.hash(s.data[v.hashed-s.off:])
		}
		if end > v.hashed {
			keep = append(keep, s)
		} else {
			v.kept -= int64(len(s.data))
		}
	}
	clear(v.pending[len(keep):])
	v.pending = keep
}

// mark records the pages [off, end) fills: whole pages, and the blob's
// last page when end is the blob's end.
func (v *blobVerifier) mark(off, end int64) {
	first := (off + pageSize - 1) / pageSize
	last := end / pageSize // exclusive
	if end == v.size {
		last = pages(v.size)
	}
	for p := first; p < last; p++ {
		w, b := p/64, uint64(1)<<(p%64)
		if v.pages[w]&b == 0 {
			v.pages[w] |= b
			v.served++
		}
	}
}

// catchUp hashes what was served but not kept, reading it again.
func (v *blobVerifier) catchUp(ctx context.Context) error {
	for v.hashed < v.size {
		v.drain()
		if v.hashed >= v.size {
			break
		}
		to := v.size
		if len(v.pending) > 0 && v.pending[0].off > v.hashed {
			to = v.pending[0].off
		}
		body, err := v.fetch.ReadRange(ctx, v.hashed, to-v.hashed)
		if err != nil {
			return fmt.Errorf("read blob %s again to verify it: %w", v.name, err)
		}
		// What was copied is hashed, so a broken read resumes there.
		n, err := io.Copy(v.w, io.LimitReader(body, to-v.hashed))
		body.Close()
		v.hashed += n
		if err == nil && v.hashed < to {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("read blob %s again to verify it: %w", v.name, err)
		}
	}
	return nil
}

func (v *blobVerifier) finish() {
	v.done = true
	if err := v.h.Check(); err != nil {
		v.verdict = errBlobCorrupt
	} else if v.onGood != nil {
		if o := v.ob.Outboard(); o != nil {
			v.onGood(o)
		}
	}
	v.ob = nil
	v.pending, v.kept, v.pages = nil, 0, nil
}
