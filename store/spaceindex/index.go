// Package spaceindex joins the node's acceptances with its blob listing:
// which space accepted which stored blob, packed for a million pairs
// (Table), and kept while in use (Index). The mount's /spaces is its
// view.
package spaceindex

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/blobstore"
)

// spacesTTL is how old the index of acceptances may grow before a use
// rebuilds it (in the background: uses meanwhile keep the old one), and
// how long an unused index is kept.
const spacesTTL = time.Minute

// rebuildCost scales the index's age limit by its build time, so that
// rebuilds take at most 1/rebuildCost of the time it is in use: a
// million acceptances take ~6 s of CPU to index, and a walk of them
// longer than a minute paid a rebuild, with two indexes in memory.
const rebuildCost = 20

// Index is which space accepted which stored blob (the /spaces view). It is
// built from the acceptance store's keys, "<blob>/<space DID>", which
// say both without reading a record (on S3 a record is a request, and a
// node may hold millions), joined with one blob listing, so that an
// accepted blob the node does not store is left out (and logged:
// `storefs check` reports it as missing-blob). Built at first use.
//
// The index is dropped once nothing used it for spacesTTL, or once no
// holder is left (the mount: the kernel holds no /spaces/<space>
// directory): after a walk the memory comes back.
type Index struct {
	ctx     context.Context
	accepts *acceptancestore.Store
	blobs   blobstore.Store
	log     *slog.Logger
	onDrop  func()

	mu       sync.Mutex
	cur      *Table
	built    time.Time     // when cur's build began
	took     time.Duration // how long cur's build took
	used     time.Time     // cur's last use
	building *spaceBuild   // the build under way, nil: none
	idle     *time.Timer
	holds    int
}

// New is the index of accepts joined with blobs, built at first use
// within ctx. onDrop (may be nil) is told when an index is let go.
func New(ctx context.Context, accepts *acceptancestore.Store, blobs blobstore.Store, log *slog.Logger, onDrop func()) *Index {
	if log == nil {
		log = slog.Default()
	}
	if onDrop == nil {
		onDrop = func() {}
	}
	return &Index{ctx: ctx, accepts: accepts, blobs: blobs, log: log, onDrop: onDrop}
}

// spaceBuild is one build, which every use waiting for it shares.
type spaceBuild struct {
	done chan struct{}
	t    *Table
	err  error
}

// Table returns the index, building it when there is none. An old
// index is served while its successor is built.
func (x *Index) Table(ctx context.Context) (*Table, error) {
	x.mu.Lock()
	x.used = time.Now()
	if t := x.cur; t != nil {
		if time.Since(x.built) >= max(spacesTTL, rebuildCost*x.took) {
			x.rebuild()
		}
		x.mu.Unlock()
		return t, nil
	}
	b := x.rebuild()
	x.mu.Unlock()
	select {
	case <-b.done:
		return b.t, b.err
	case <-ctx.Done():
		return nil, fmt.Errorf("index /spaces: %w", ctx.Err())
	}
}

// rebuild starts a build unless one is under way. x.mu is held.
func (x *Index) rebuild() *spaceBuild {
	if x.building != nil {
		return x.building
	}
	b := &spaceBuild{done: make(chan struct{})}
	x.building = b
	go func() {
		began := time.Now()
		// The index's context, not the request's: later uses share the
		// build, and each request is bounded by its backend's own bound.
		b.t, b.err = Build(x.ctx, x.accepts, x.blobs, x.log)
		x.mu.Lock()
		x.building = nil
		switch {
		case b.err == nil:
			x.cur, x.built, x.took = b.t, began, time.Since(began)
			x.keepWhileUsed()
		case x.cur != nil:
			x.log.Warn("rebuild /spaces; serving the index of an earlier listing", "built", x.built.Format(time.RFC3339), "err", b.err)
		}
		x.mu.Unlock()
		close(b.done)
	}()
	return b
}

// keepWhileUsed arms the drop of an unused index. x.mu is held.
func (x *Index) keepWhileUsed() {
	if x.idle == nil {
		x.idle = time.AfterFunc(spacesTTL, x.expire)
		return
	}
	x.idle.Reset(spacesTTL)
}

func (x *Index) expire() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur == nil {
		return
	}
	if idle := time.Since(x.used); idle < spacesTTL {
		x.idle.Reset(spacesTTL - idle)
		return
	}
	x.drop()
}

// drop lets the index go, and tells onDrop: an idle daemon may not
// collect for minutes, and the index of a million pairs is ~80 MB.
// x.mu is held.
func (x *Index) drop() {
	if x.cur != nil {
		x.cur = nil
		x.onDrop()
	}
}

// Hold and Release count the holders of the index (the mount: the
// /spaces/<space> inodes the kernel holds); when none is left, the index
// goes (a use builds it again).
func (x *Index) Hold() {
	x.mu.Lock()
	x.holds++
	x.mu.Unlock()
}

func (x *Index) Release() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.holds > 0 {
		x.holds--
	}
	if x.holds == 0 {
		x.drop()
	}
}

// Loaded is the index if there is one, without building one: a blob's
// link count comes from it, and a listing of /blobs must not pay for
// an index of every acceptance.
func (x *Index) Loaded() *Table {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cur
}
