package fusefs

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/storacha/storefs/readstack/prefetch"
	"github.com/storacha/storefs/store/blobstore"
)

// blobHandle reads a blob through the mount's prefetch pool: sequential
// readers get growing, parallel read-ahead; random readers get ranged reads
// of what they asked for.
type blobHandle struct {
	f *blobFile
}

// stream is one run of reads of a blob. Streams belong to the blob, not
// to an open file: the kernel fills one page cache per blob and spreads
// its read-ahead over whichever handles are open, so two readers of one
// blob form one stream and fetch it once.
type stream struct {
	mu   sync.Mutex // one read at a time
	r    *prefetch.Reader
	used uint64 // guarded by blobFile.streamsMu
}

// maxStreams bounds the runs kept per blob.
const maxStreams = 8

// stream picks the run a read at off continues, or starts one. Past
// maxStreams it takes over the least recently used run that is idle and
// reads no sequential run ahead; with none such it returns nil, and the
// read is served on its own (prefetch.Pool.Random): a random read never
// waits for another's run, nor takes a sequential reader's read-ahead.
func (f *blobFile) stream(off int64) *stream {
	f.streamsMu.Lock()
	defer f.streamsMu.Unlock()
	f.tick++
	var lru *stream
	for _, s := range f.streams {
		if s.r.Continues(off) {
			s.used = f.tick
			return s
		}
		if s.r.Ahead() || (lru != nil && s.used >= lru.used) {
			continue
		}
		if s.mu.TryLock() { // idle
			s.mu.Unlock()
			lru = s
		}
	}
	if len(f.streams) < maxStreams {
		s := &stream{r: f.root.pool.NewReader(string(f.digest), f.size, f.rs), used: f.tick}
		if f.head != nil {
			s.r.Seed(f.head)
		}
		f.streams = append(f.streams, s)
		return s
	}
	if lru != nil {
		lru.used = f.tick
	}
	return lru
}

var (
	_ fs.FileReader   = (*blobHandle)(nil)
	_ fs.FileReleaser = (*blobHandle)(nil)
)

func (h *blobHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	ctx, cancel := h.f.root.bound(ctx)
	defer cancel()
	f := h.f
	if off >= f.size || len(dest) == 0 {
		return fuse.ReadResultData(nil), 0
	}
	if f.rs.Corrupt() {
		return nil, syscall.EIO
	}
	var data []byte
	var release func()
	var err error
	if s := f.stream(off); s != nil {
		s.mu.Lock()
		data, release, err = s.r.View(ctx, dest, off)
		s.mu.Unlock()
	} else {
		var n int
		n, err = f.root.pool.Random(ctx, string(f.digest), f.size, f.rs, dest, off)
		data, release = dest[:n], func() {}
	}
	if err != nil {
		release()
		return nil, f.root.toErrno("read", blobstore.Name(f.digest), err)
	}
	if err := f.rs.Serve(ctx, data, off); err != nil {
		release()
		return nil, f.root.toErrno("verify", blobstore.Name(f.digest), err)
	}
	return readResult{data, release}, 0
}

// Release lets the blob's runs go with its last open file.
func (h *blobHandle) Release(ctx context.Context) syscall.Errno {
	f := h.f
	f.streamsMu.Lock()
	if f.opens--; f.opens == 0 {
		for _, s := range f.streams {
			s.mu.Lock()
			s.r.Close()
			s.mu.Unlock()
		}
		f.streams, f.head = nil, nil
	}
	f.streamsMu.Unlock()
	f.rs.Close()
	return 0
}

// preadFile serves a local blob file with pread (no passthrough).
type preadFile struct{ f *os.File }

var (
	_ fs.FileReader   = (*preadFile)(nil)
	_ fs.FileReleaser = (*preadFile)(nil)
)

func (p *preadFile) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := p.f.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fs.ToErrno(err)
	}
	return readResult{data: dest[:n]}, 0
}

func (p *preadFile) Release(ctx context.Context) syscall.Errno { return fs.ToErrno(p.f.Close()) }
