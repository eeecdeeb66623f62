package fusefs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/ipfs/go-cid"

	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/pdppipeline"
	"github.com/storacha/storefs/store/pdpstate"
	"github.com/storacha/storefs/store/piece"
	"github.com/storacha/storefs/store/render"
)

// withAggregator runs fn on the aggregator datastore: opened for fn
// alone (a node that starts while storefs holds it could not take its
// lock), or the handle a listing of /pdp/aggregates holds open while it
// runs (its READDIRPLUS looks up every aggregate: one open, not one each).
func (v *pdpView) withAggregator(fn func(*aggregator.DB) error) error {
	db, release, err := v.acquireAggregator()
	if err != nil {
		return err
	}
	defer release()
	return fn(db)
}

// acquireAggregator opens the aggregator datastore, or shares the open
// one; release closes it when no one uses it.
func (v *pdpView) acquireAggregator() (*aggregator.DB, func(), error) {
	if v.agg == nil {
		return nil, nil, aggregator.ErrNone
	}
	v.aggMu.Lock()
	defer v.aggMu.Unlock()
	if v.aggDB == nil {
		db, err := v.agg()
		if err != nil {
			return nil, nil, err
		}
		v.aggDB = db
	}
	v.aggUsers++
	var once sync.Once
	return v.aggDB, func() {
		once.Do(func() {
			v.aggMu.Lock()
			defer v.aggMu.Unlock()
			if v.aggUsers--; v.aggUsers == 0 {
				v.aggDB.Close()
				v.aggDB = nil
			}
		})
	}, nil
}

// statesNow is where every aggregate stands, read once a RecordTimeout
// (a lookup of each aggregate would scan the proof sets' roots).
func (v *pdpView) statesNow(ctx context.Context, ttl time.Duration, db *aggregator.DB) (*pdppipeline.States, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.states != nil && time.Since(v.statesAt) < max(ttl, time.Second) {
		return v.states, nil
	}
	submission, err := db.Submission(ctx)
	if err != nil {
		return nil, err
	}
	jobs, err := pdppipeline.ReadJobs(ctx, v.jobs)
	if err != nil {
		return nil, err
	}
	states, err := pdppipeline.ReadStates(ctx, v.db, jobs, submission)
	if err != nil {
		return nil, err
	}
	v.states, v.statesAt = states, time.Now()
	return states, nil
}

// releasing is a listing that holds the aggregator open until the kernel
// releases the directory.
type releasing struct {
	fs.DirStream
	release func()
}

func (r releasing) Close() {
	r.DirStream.Close()
	r.release()
}

// lockedName is the file /pdp/aggregates holds while the node holds the
// datastore: what it cannot show, and the way round.
const lockedName = "LOCKED.txt"

func lockedText(err error) string {
	return fmt.Sprintf("The aggregator datastore cannot be read: %v.\n"+
		"A running node holds it locked. Aggregates and the buffer show on a stopped node, or on a copy of its data dir:\n"+
		"  cp -a <data_dir> /tmp/piri-snapshot && storefs mount --data-dir /tmp/piri-snapshot <mountpoint>\n"+
		"The rest of /pdp reads the node's PDP state and works meanwhile.\n", err)
}

// aggregatesDir is /pdp/aggregates: <aggregate piece CID>.json for each
// aggregate the node built.
type aggregatesDir struct {
	fs.Inode
	dir
	v *pdpView
}

var (
	_ fs.NodeReaddirer = (*aggregatesDir)(nil)
	_ fs.NodeLookuper  = (*aggregatesDir)(nil)
	_ fs.NodeGetattrer = (*aggregatesDir)(nil)
)

func (d *aggregatesDir) sameDir(fresh fs.InodeEmbedder) bool {
	_, ok := fresh.(*aggregatesDir)
	return ok
}

func (d *aggregatesDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	var out []fuse.DirEntry
	db, release, err := d.v.acquireAggregator()
	if err == nil {
		err = db.Roots(ctx, func(root string) bool {
			out = append(out, fuse.DirEntry{Name: root + ".json", Mode: syscall.S_IFREG})
			return true
		})
		if err != nil {
			release()
		}
	}
	switch {
	case err == nil:
		return releasing{fs.NewListDirStream(out), release}, 0
	case errors.Is(err, aggregator.ErrNone):
	case errors.Is(err, aggregator.ErrLocked):
		out = []fuse.DirEntry{{Name: lockedName, Mode: syscall.S_IFREG}}
	default:
		return nil, d.pdpErrno("readdir", "/pdp/aggregates", err)
	}
	return fs.NewListDirStream(out), 0
}

// aggregateInfo is /pdp/aggregates/<root>.json.
type aggregateInfo struct {
	Root       string `json:"root"`
	PaddedSize uint64 `json:"padded_size"`
	// State: added (a root of a proof set), adding (its root add is not
	// confirmed), add-failed, awaiting-root-add (in the manager's buffer
	// or queue), add-dead (its add_roots job dead-lettered, with Error),
	// or not-added (none of these).
	State  string               `json:"state"`
	Error  string               `json:"error,omitempty"`
	Roots  []pdpstate.RootRef   `json:"roots"`
	Pieces []aggregatePieceInfo `json:"pieces"`
}

type aggregatePieceInfo struct {
	Piece      string `json:"piece"`
	Offset     uint64 `json:"offset"` // padded bytes into the aggregate
	Size       uint64 `json:"size"`   // padded
	Index      uint64 `json:"index"`
	ProofDepth int    `json:"proof_depth"`
	Blob       string `json:"blob,omitempty"`
}

func (d *aggregatesDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	path := "/pdp/aggregates/" + name
	root, ok := strings.CutSuffix(name, ".json")
	var agg aggregator.Aggregate
	var states *pdppipeline.States
	err := d.v.withAggregator(func(db *aggregator.DB) error {
		if !ok {
			return aggregator.ErrNotFound
		}
		var err error
		if agg, err = db.Aggregate(ctx, root); err != nil {
			return err
		}
		states, err = d.v.statesNow(ctx, d.root.cfg.RecordTimeout, db)
		return err
	})
	switch {
	case errors.Is(err, aggregator.ErrLocked) && name == lockedName:
		return d.file(ctx, &d.Inode, []byte(lockedText(err)), out), 0
	case errors.Is(err, aggregator.ErrNone), errors.Is(err, aggregator.ErrNotFound), errors.Is(err, aggregator.ErrLocked):
		return d.missing(out)
	case err != nil:
		return nil, d.pdpErrno("lookup", path, err)
	}
	info, err := d.aggregateInfo(ctx, agg, states)
	if err != nil {
		return nil, d.pdpErrno("lookup", path, err)
	}
	data, err := render.JSON(info)
	if err != nil {
		return nil, d.pdpErrno("lookup", path, err)
	}
	return d.file(ctx, &d.Inode, data, out), 0
}

func (d *aggregatesDir) aggregateInfo(ctx context.Context, agg aggregator.Aggregate, states *pdppipeline.States) (aggregateInfo, error) {
	pieces, err := d.v.piecesNow(ctx, d.root.cfg.RecordTimeout)
	if err != nil {
		return aggregateInfo{}, err
	}
	info := aggregateInfo{Root: agg.Root, Pieces: make([]aggregatePieceInfo, len(agg.Pieces))}
	if rc, err := cid.Decode(agg.Root); err == nil {
		_, info.PaddedSize, _ = piece.Sizes(rc)
	}
	for i, p := range agg.Pieces {
		pi := aggregatePieceInfo{Piece: p.Piece, Index: p.Index, ProofDepth: len(p.Path)}
		pi.Offset, pi.Size = p.Offset()
		if pc, ok := pieces.Get(p.Piece); ok {
			pi.Blob = blobstore.Name(pc.Digest)
		}
		info.Pieces[i] = pi
	}
	info.State, info.Roots, info.Error = states.Of(agg.Root)
	if info.Roots == nil {
		info.Roots = []pdpstate.RootRef{}
	}
	return info, nil
}

// bufferInfo is /pdp/buffer.json.
type bufferInfo struct {
	// State: ok, none (no aggregator datastore), or unknown (locked).
	State     string            `json:"state"`
	Reason    string            `json:"reason,omitempty"`
	TotalSize uint64            `json:"total_size"` // padded
	Pieces    []bufferPieceInfo `json:"pieces"`
	// AwaitingRootAdd are the aggregates in the manager's buffer.
	AwaitingRootAdd []string `json:"awaiting_root_add"`
}

type bufferPieceInfo struct {
	Piece string `json:"piece"`
	Size  uint64 `json:"size"` // padded
	Blob  string `json:"blob,omitempty"`
}

// bufferFile makes /pdp/buffer.json: the pieces waiting to be aggregated
// and the aggregates waiting to be added.
func (d *pdpDir) bufferFile(ctx context.Context, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	info := bufferInfo{State: "ok", Pieces: []bufferPieceInfo{}, AwaitingRootAdd: []string{}}
	var buf aggregator.Buffer
	err := d.v.withAggregator(func(db *aggregator.DB) error {
		var err error
		if buf, err = db.Buffer(ctx); err != nil {
			return err
		}
		info.AwaitingRootAdd, err = db.Submission(ctx)
		return err
	})
	switch {
	case errors.Is(err, aggregator.ErrNone):
		info.State, info.Reason = "none", "the node has no aggregator datastore"
	case errors.Is(err, aggregator.ErrLocked):
		info.State, info.Reason = "unknown", lockedText(err)
	case err != nil:
		return nil, d.pdpErrno("lookup", "/pdp/buffer.json", err)
	}
	pieces, err := d.v.piecesNow(ctx, d.root.cfg.RecordTimeout)
	if err != nil {
		return nil, d.pdpErrno("lookup", "/pdp/buffer.json", err)
	}
	info.TotalSize = buf.TotalSize
	for _, p := range buf.Pieces {
		bp := bufferPieceInfo{Piece: p}
		if pc, err := cid.Decode(p); err == nil {
			_, bp.Size, _ = piece.Sizes(pc)
		}
		if pc, ok := pieces.Get(p); ok {
			bp.Blob = blobstore.Name(pc.Digest)
		}
		info.Pieces = append(info.Pieces, bp)
	}
	data, err := render.JSON(info)
	if err != nil {
		return nil, d.pdpErrno("lookup", "/pdp/buffer.json", err)
	}
	return d.file(ctx, &d.Inode, data, out), 0
}
