package fusefs

import (
	"context"
	"iter"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// dirStream feeds the kernel a listing as the backend yields it: nothing is
// materialised, so a million-entry directory costs constant memory. The
// listing outlives single READDIR requests, so it runs on the mount's
// context; Close (or unmount) stops it.
type dirStream struct {
	parent context.Context
	open   func(ctx context.Context) iter.Seq2[fuse.DirEntry, error]
	onErr  func(error) syscall.Errno

	cancel context.CancelFunc
	next   func() (fuse.DirEntry, error, bool)
	stop   func()
	peeked *fuse.DirEntry
	err    error
	done   bool
}

var (
	_ fs.DirStream     = (*dirStream)(nil)
	_ fs.FileSeekdirer = (*dirStream)(nil)
)

func newDirStream(parent context.Context, open func(ctx context.Context) iter.Seq2[fuse.DirEntry, error], onErr func(error) syscall.Errno) *dirStream {
	d := &dirStream{parent: parent, open: open, onErr: onErr}
	d.restart()
	return d
}

func (d *dirStream) restart() {
	d.Close()
	ctx, cancel := context.WithCancel(d.parent)
	d.cancel = cancel
	d.next, d.stop = iter.Pull2(d.open(ctx))
	d.peeked, d.err, d.done = nil, nil, false
}

func (d *dirStream) HasNext() bool {
	if d.peeked != nil || d.err != nil {
		return true
	}
	if d.done {
		return false
	}
	e, err, ok := d.next()
	switch {
	case !ok:
		d.done = true
		return false
	case err != nil:
		d.err = err
		return true
	}
	d.peeked = &e
	return true
}

func (d *dirStream) Next() (fuse.DirEntry, syscall.Errno) {
	if d.err != nil {
		err := d.err
		d.err, d.done = nil, true
		return fuse.DirEntry{}, d.onErr(err)
	}
	e := *d.peeked
	d.peeked = nil
	return e, 0
}

// Seekdir restarts the listing and skips to entry off (go-fuse numbers
// entries 1, 2, … in order; listings come in a stable order).
func (d *dirStream) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	d.restart()
	for i := uint64(0); i < off && d.HasNext(); i++ {
		if _, errno := d.Next(); errno != 0 {
			return errno
		}
	}
	return 0
}

func (d *dirStream) Close() {
	if d.stop != nil {
		d.stop()
		d.cancel()
		d.stop = nil
	}
}
