package fusefs

import (
	"context"
	"iter"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	mh "github.com/multiformats/go-multihash"
)

// dirEntry is one listed name. A blob the listing knows the size of (S3)
// carries its digest and what was listed, for READDIRPLUS (blobsListing).
type dirEntry struct {
	fuse.DirEntry
	digest mh.Multihash // nil: not known from the listing
	meta   blobMeta
}

// dirHandle is an open directory fed by a backend listing. A goroutine
// runs the listing ahead of the kernel, so reading the backend overlaps
// with answering READDIR; at most dirAhead entries wait in memory, so a
// million-entry directory costs constant memory. The listing outlives
// single requests, so it runs on the mount's context; Releasedir (or
// unmount) stops it.
type dirHandle struct {
	parent context.Context
	open   func(ctx context.Context) iter.Seq2[dirEntry, error]
	onErr  func(error) syscall.Errno

	cancel context.CancelFunc
	feed   *dirFeed
	cur    []dirEntry // taken from the feed, not yet handed out
	spare  []dirEntry // cur's array, given back to the feed when used up
}

// dirFeed is one run of the listing, between its goroutine and the
// handle. The reader takes everything pending at once, so neither side
// wakes the other per entry and no entry waits for a batch to fill.
type dirFeed struct {
	mu      sync.Mutex
	cond    sync.Cond
	pending []dirEntry
	err     error
	done    bool // the listing ended (err tells how)
	stopped bool // the handle let go
	hungry  bool // the reader waits for entries
	full    bool // the goroutine waits for room
}

const dirAhead = 1024 // entries listed ahead of the kernel

var (
	_ fs.FileReaddirenter = (*dirHandle)(nil)
	_ fs.FileSeekdirer    = (*dirHandle)(nil)
	_ fs.FileReleasedirer = (*dirHandle)(nil)
	_ fs.FileLookuper     = (*dirHandle)(nil)
)

func newDirHandle(parent context.Context, open func(ctx context.Context) iter.Seq2[dirEntry, error], onErr func(error) syscall.Errno) *dirHandle {
	return &dirHandle{parent: parent, open: open, onErr: onErr}
}

// names adapts a listing of plain names.
func names(seq iter.Seq2[fuse.DirEntry, error]) iter.Seq2[dirEntry, error] {
	return func(yield func(dirEntry, error) bool) {
		for e, err := range seq {
			if !yield(dirEntry{DirEntry: e}, err) {
				return
			}
		}
	}
}

// restart forgets the current run; the next read starts a new one.
func (d *dirHandle) restart() {
	d.stop()
	d.feed = nil
	d.cur, d.spare = nil, nil
}

// start runs the listing, on the first read: an open that reads nothing
// costs no backend request.
func (d *dirHandle) start() {
	ctx, cancel := context.WithCancel(d.parent)
	f := &dirFeed{}
	f.cond.L = &f.mu
	// Releasedir and unmount both end the run, even while the goroutine
	// waits for room.
	context.AfterFunc(ctx, f.stop)
	d.cancel, d.feed = cancel, f
	go f.fill(ctx, d.open(ctx))
}

func (f *dirFeed) fill(ctx context.Context, list iter.Seq2[dirEntry, error]) {
	err := func() error {
		for e, err := range list {
			if err != nil {
				return err
			}
			f.mu.Lock()
			for len(f.pending) >= dirAhead && !f.stopped {
				f.full = true
				f.cond.Wait()
			}
			if f.stopped {
				f.mu.Unlock()
				return ctx.Err()
			}
			f.pending = append(f.pending, e)
			if f.hungry {
				f.hungry = false
				f.cond.Broadcast()
			}
			f.mu.Unlock()
		}
		return nil
	}()
	f.mu.Lock()
	f.err, f.done = err, true
	f.cond.Broadcast()
	f.mu.Unlock()
}

func (f *dirFeed) stop() {
	f.mu.Lock()
	f.stopped = true
	f.cond.Broadcast()
	f.mu.Unlock()
}

// take moves every pending entry to the handle, waiting for one if none
// is there. It reports the listing's end (and error) once all entries
// before it were taken.
func (d *dirHandle) take() (end bool, err error) {
	if d.feed == nil {
		d.start()
	}
	f := d.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.pending) == 0 && !f.done {
		f.hungry = true
		f.cond.Wait()
	}
	if len(f.pending) == 0 {
		err, f.err = f.err, nil
		return true, err
	}
	d.cur, d.spare, f.pending = f.pending, f.pending, d.spare[:0]
	if f.full {
		f.full = false
		f.cond.Broadcast()
	}
	return false, nil
}

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	e, ok, errno := d.next(ctx)
	if !ok {
		return nil, errno
	}
	return &e.DirEntry, 0
}

// next is the listing's next entry; at its end, ok is false.
func (d *dirHandle) next(ctx context.Context) (e dirEntry, ok bool, errno syscall.Errno) {
	if len(d.cur) == 0 {
		end, err := d.take()
		if err != nil {
			return dirEntry{}, false, d.onErr(err)
		}
		if end {
			return dirEntry{}, false, 0
		}
	}
	e, d.cur = d.cur[0], d.cur[1:]
	return e, true, 0
}

// Lookup answers READDIRPLUS with names only: go-fuse turns the error
// into node id 0, and the kernel looks a name up only if asked to. (The
// listing of /blobs, whose entries carry nodes, is blobsListing's.)
func (d *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.ENOENT
}

// Seekdir restarts the listing and skips to entry off (go-fuse numbers
// entries 1, 2, … in order; listings come in a stable order).
func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	d.restart()
	for range off {
		e, errno := d.Readdirent(ctx)
		if errno != 0 {
			return errno
		}
		if e == nil {
			break
		}
	}
	return 0
}

func (d *dirHandle) Releasedir(ctx context.Context, releaseFlags uint32) { d.stop() }

func (d *dirHandle) stop() {
	if d.cancel != nil {
		d.cancel()
		d.cancel = nil
	}
}
