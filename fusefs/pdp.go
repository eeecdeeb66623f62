package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/ipfs/go-cid"

	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/pdppipeline"
	"github.com/storacha/storefs/store/pdpstate"
	"github.com/storacha/storefs/store/piece"
	"github.com/storacha/storefs/store/proofrisk"
	"github.com/storacha/storefs/store/render"
)

// pdpView is the node's PDP state as /pdp shows it: the database, and
// the commP table read once a RecordTimeout (Piri keeps no index from a
// piece to its blob).
type pdpView struct {
	db *pdpstate.DB

	mu     sync.Mutex
	pieces *proofrisk.Pieces
	at     time.Time
	gen    uint64 // counts loads of pieces

	agg  func() (*aggregator.DB, error) // nil: no aggregator datastore
	jobs *jobqueue.DB                   // nil: no job queues
	// The aggregator open while someone uses it, and where every
	// aggregate stands (under mu, a RecordTimeout).
	aggMu    sync.Mutex
	aggDB    *aggregator.DB
	aggUsers int
	states   *pdppipeline.States
	statesAt time.Time
}

func (v *pdpView) piecesNow(ctx context.Context, ttl time.Duration) (proofrisk.Pieces, error) {
	p, _, err := v.piecesGen(ctx, ttl)
	return p, err
}

// piecesGen is piecesNow and the load it came from: what was resolved
// from the same load need not be resolved again.
func (v *pdpView) piecesGen(ctx context.Context, ttl time.Duration) (proofrisk.Pieces, uint64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pieces != nil && time.Since(v.at) < max(ttl, time.Second) {
		return *v.pieces, v.gen, nil
	}
	p, err := proofrisk.LoadPieces(ctx, v.db)
	if err != nil {
		return proofrisk.Pieces{}, 0, err
	}
	v.pieces, v.at = &p, time.Now()
	v.gen++
	return p, v.gen, nil
}

// pdpDir is /pdp: proofsets/, pending/, pieces/, aggregates/, buffer.json.
type pdpDir struct {
	fs.Inode
	dir
	v *pdpView
}

var (
	_ fs.NodeReaddirer = (*pdpDir)(nil)
	_ fs.NodeLookuper  = (*pdpDir)(nil)
	_ fs.NodeGetattrer = (*pdpDir)(nil)
)

func (d *pdpDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	return fs.NewListDirStream([]fuse.DirEntry{{Name: "proofsets", Mode: syscall.S_IFDIR}, {Name: "pending", Mode: syscall.S_IFDIR},
		{Name: "pieces", Mode: syscall.S_IFDIR}, {Name: "aggregates", Mode: syscall.S_IFDIR}, {Name: "buffer.json", Mode: syscall.S_IFREG}}), 0
}

func (d *pdpDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var node fs.InodeEmbedder
	switch name {
	case "proofsets":
		node = &proofSetsDir{dir: d.dir, v: d.v}
	case "pending":
		node = &pendingDir{dir: d.dir, v: d.v}
	case "pieces":
		node = &piecesDir{dir: d.dir, v: d.v}
	case "aggregates":
		node = &aggregatesDir{dir: d.dir, v: d.v}
	case "buffer.json":
		return d.bufferFile(ctx, out)
	default:
		return d.missing(out)
	}
	return d.subdir(ctx, &d.Inode, name, node, out), 0
}

func (d dir) pdpErrno(op, path string, err error) syscall.Errno {
	d.root.log.Error("pdp state", "op", op, "path", path, "err", err)
	return syscall.EIO
}

// proofSetsDir is /pdp/proofsets: a directory per proof set, by id.
type proofSetsDir struct {
	fs.Inode
	dir
	v *pdpView
}

var (
	_ fs.NodeReaddirer = (*proofSetsDir)(nil)
	_ fs.NodeLookuper  = (*proofSetsDir)(nil)
	_ fs.NodeGetattrer = (*proofSetsDir)(nil)
)

func (d *proofSetsDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	sets, err := d.v.db.ProofSets(ctx)
	if err != nil {
		return nil, d.pdpErrno("readdir", "/pdp/proofsets", err)
	}
	var out []fuse.DirEntry
	for _, s := range sets {
		out = append(out, fuse.DirEntry{Name: strconv.FormatInt(s.ID, 10), Mode: syscall.S_IFDIR})
	}
	return fs.NewListDirStream(out), 0
}

func (d *proofSetsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	sets, err := d.v.db.ProofSets(ctx)
	if err != nil {
		return nil, d.pdpErrno("lookup", "/pdp/proofsets/"+name, err)
	}
	for _, s := range sets {
		if strconv.FormatInt(s.ID, 10) == name {
			return d.subdir(ctx, &d.Inode, name, &proofSetDir{dir: d.dir, v: d.v, id: s.ID}, out), 0
		}
	}
	return d.missing(out)
}

// proofSetDir is /pdp/proofsets/<id>: info.json and roots/.
type proofSetDir struct {
	fs.Inode
	dir
	v  *pdpView
	id int64
}

var (
	_ fs.NodeReaddirer = (*proofSetDir)(nil)
	_ fs.NodeLookuper  = (*proofSetDir)(nil)
	_ fs.NodeGetattrer = (*proofSetDir)(nil)
)

func (d *proofSetDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	return fs.NewListDirStream([]fuse.DirEntry{{Name: "info.json", Mode: syscall.S_IFREG}, {Name: "roots", Mode: syscall.S_IFDIR}}), 0
}

// setInfo is /pdp/proofsets/<id>/info.json.
type setInfo struct {
	ID                        int64              `json:"proofset"`
	ProvingPeriod             int64              `json:"proving_period"`
	ChallengeWindow           int64              `json:"challenge_window"`
	NextChallengeEpoch        int64              `json:"next_challenge_epoch"`
	PrevChallengeRequestEpoch int64              `json:"prev_challenge_request_epoch"`
	InitReady                 bool               `json:"init_ready"`
	CreateMessageHash         string             `json:"create_message_hash"`
	Service                   string             `json:"service"`
	Roots                     int                `json:"roots"`
	Subroots                  int                `json:"subroots"`
	Bytes                     uint64             `json:"bytes"`
	AtRiskBytes               uint64             `json:"at_risk_bytes"`
	FailureProbability        float64            `json:"period_failure_probability"`
	PendingRootAdds           int                `json:"pending_root_adds"`
	FailedRootAdds            int                `json:"failed_root_adds"`
	BadRootOffsets            []string           `json:"bad_root_offsets"`
	LastProveFailures         []pdpstate.Failure `json:"last_prove_failures"`
}

func (d *proofSetDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	path := fmt.Sprintf("/pdp/proofsets/%d/%s", d.id, name)
	switch name {
	case "roots":
		return d.subdir(ctx, &d.Inode, name, &rootsDir{dir: d.dir, v: d.v, id: d.id}, out), 0
	case "info.json":
		ctx, cancel := d.root.bound(ctx)
		defer cancel()
		sets, err := d.v.db.ProofSets(ctx)
		if err != nil {
			return nil, d.pdpErrno("lookup", path, err)
		}
		i := slices.IndexFunc(sets, func(s pdpstate.ProofSet) bool { return s.ID == d.id })
		if i < 0 {
			return d.missing(out)
		}
		pieces, err := d.v.piecesNow(ctx, d.root.cfg.RecordTimeout)
		if err != nil {
			return nil, d.pdpErrno("lookup", path, err)
		}
		adds, err := proofrisk.Adds(ctx, d.v.db)
		if err != nil {
			return nil, d.pdpErrno("lookup", path, err)
		}
		set, err := proofrisk.Assess(ctx, d.v.db, d.root.stores.Blobs, pieces, sets[i], adds[d.id], proofrisk.Config{Failures: 5}, nil)
		if err != nil {
			return nil, d.pdpErrno("lookup", path, err)
		}
		data, err := render.JSON(setInfo{ID: set.ID, ProvingPeriod: set.ProvingPeriod, ChallengeWindow: set.ChallengeWindow,
			NextChallengeEpoch: set.ProveAtEpoch, PrevChallengeRequestEpoch: set.PrevChallengeRequestEpoch, InitReady: set.InitReady,
			CreateMessageHash: set.CreateMessageHash, Service: set.Service, Roots: set.Roots, Subroots: set.Subroots,
			Bytes: set.Bytes(), AtRiskBytes: set.AtRiskBytes(), FailureProbability: set.FailureProbability,
			PendingRootAdds: set.PendingAdds, FailedRootAdds: set.FailedAdds,
			BadRootOffsets: append([]string{}, set.BadOffsets...), LastProveFailures: append([]pdpstate.Failure{}, set.ProveFailures...)})
		if err != nil {
			return nil, d.pdpErrno("lookup", path, err)
		}
		return d.file(ctx, &d.Inode, data, out), 0
	}
	return d.missing(out)
}

// rootsDir is /pdp/proofsets/<id>/roots: a directory per root id.
type rootsDir struct {
	fs.Inode
	dir
	v  *pdpView
	id int64
}

var (
	_ fs.NodeReaddirer = (*rootsDir)(nil)
	_ fs.NodeLookuper  = (*rootsDir)(nil)
	_ fs.NodeGetattrer = (*rootsDir)(nil)
)

func (d *rootsDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	var out []fuse.DirEntry
	err := d.v.db.RootIDs(ctx, d.id, func(id int64) bool {
		out = append(out, fuse.DirEntry{Name: strconv.FormatInt(id, 10), Mode: syscall.S_IFDIR})
		return true
	})
	if err != nil {
		return nil, d.pdpErrno("readdir", fmt.Sprintf("/pdp/proofsets/%d/roots", d.id), err)
	}
	return fs.NewListDirStream(out), 0
}

func (d *rootsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	id, err := strconv.ParseInt(name, 10, 64)
	if err != nil || strconv.FormatInt(id, 10) != name {
		return d.missing(out)
	}
	subs, err := d.v.db.RootSubroots(ctx, d.id, id)
	if err != nil {
		return nil, d.pdpErrno("lookup", fmt.Sprintf("/pdp/proofsets/%d/roots/%s", d.id, name), err)
	}
	if len(subs) == 0 {
		return d.missing(out)
	}
	byName := make(map[string]int, len(subs))
	for i, s := range subs {
		byName[subrootName(s)] = i
	}
	return d.subdir(ctx, &d.Inode, name, &rootDir{dir: d.dir, v: d.v, subs: subs, byName: byName}, out), 0
}

// rootDir is /pdp/proofsets/<id>/roots/<root id>: info.json, and a
// relative symlink per subroot, <offset>-<piece CID>, to the blob behind
// it (dangling when the blob is gone; none when no commP row names the
// piece).
type rootDir struct {
	fs.Inode
	dir
	v      *pdpView
	subs   []pdpstate.Subroot
	byName map[string]int // index in subs, by link name

	mu    sync.Mutex
	gen   uint64           // the load of pieces blobs was resolved from
	blobs []pdpstate.Piece // per subroot, its blob; Digest nil: unresolvable
}

var (
	_ fs.NodeReaddirer = (*rootDir)(nil)
	_ fs.NodeLookuper  = (*rootDir)(nil)
	_ fs.NodeGetattrer = (*rootDir)(nil)
)

func subrootName(s pdpstate.Subroot) string { return fmt.Sprintf("%d-%s", s.Offset, s.Piece) }

// blobsNow resolves every subroot's blob once per load of the commP
// table: READDIRPLUS looks up each of a root's thousand links.
func (d *rootDir) blobsNow(ctx context.Context) ([]pdpstate.Piece, error) {
	pieces, gen, err := d.v.piecesGen(ctx, d.root.cfg.RecordTimeout)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.blobs != nil && d.gen == gen {
		return d.blobs, nil
	}
	blobs := make([]pdpstate.Piece, len(d.subs))
	for i, s := range d.subs {
		if p, ok := pieces.Get(s.Piece); ok {
			blobs[i] = p
		}
	}
	d.blobs, d.gen = blobs, gen
	return blobs, nil
}

func (d *rootDir) path(name string) string {
	return fmt.Sprintf("/pdp/proofsets/%d/roots/%d/%s", d.subs[0].ProofSet, d.subs[0].RootID, name)
}

func (d *rootDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	blobs, err := d.blobsNow(ctx)
	if err != nil {
		return nil, d.pdpErrno("readdir", d.path(""), err)
	}
	out := []fuse.DirEntry{{Name: "info.json", Mode: syscall.S_IFREG}}
	for i, s := range d.subs {
		if blobs[i].Digest != nil {
			out = append(out, fuse.DirEntry{Name: subrootName(s), Mode: syscall.S_IFLNK})
		}
	}
	return fs.NewListDirStream(out), 0
}

func (d *rootDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	blobs, err := d.blobsNow(ctx)
	if err != nil {
		return nil, d.pdpErrno("lookup", d.path(name), err)
	}
	if name == "info.json" {
		f, err := newRootInfoFile(d, blobs)
		if err != nil {
			return nil, d.pdpErrno("lookup", d.path(name), err)
		}
		d.root.fileAttr(&out.Attr, int64(len(f.tmpl)), time.Time{})
		out.SetEntryTimeout(d.root.cfg.RecordTimeout)
		out.SetAttrTimeout(d.root.cfg.RecordAttrTimeout)
		return d.NewInode(ctx, f, fs.StableAttr{Mode: syscall.S_IFREG}), 0
	}
	if i, ok := d.byName[name]; ok && blobs[i].Digest != nil {
		return d.symlink(ctx, &d.Inode, name, "../../../../../blobs/"+blobstore.Name(blobs[i].Digest), out), 0
	}
	return d.missing(out)
}

// subrootInfo is a subroot in a root's info.json.
type subrootInfo struct {
	Offset uint64 `json:"offset"`
	Size   uint64 `json:"size"`
	Piece  string `json:"piece"`
	Blob   string `json:"blob,omitempty"`
	State  string `json:"state"`
}

type rootInfo struct {
	ProofSet   int64         `json:"proofset"`
	RootID     int64         `json:"root_id"`
	Root       string        `json:"root"`
	PaddedSize uint64        `json:"padded_size"`
	Subroots   []subrootInfo `json:"subroots"`
}

// rootInfoFile is a root's info.json. A subroot's state takes a stat of
// its blob (a HEAD on S3), so states are found when the file is opened,
// not when it is looked up: ls -l stats every root's info.json, and that
// must not cost a stat of every blob. Each state is padded with spaces to
// the widest state (JSON allows space after a value), so the size is
// known before the states are.
type rootInfoFile struct {
	fs.Inode
	readOnly
	noXattrs
	d     *rootDir
	blobs []pdpstate.Piece
	tmpl  []byte // each state is statePlaceholder
}

var (
	_ fs.NodeGetattrer = (*rootInfoFile)(nil)
	_ fs.NodeOpener    = (*rootInfoFile)(nil)
	_ fs.NodeReader    = (*rootInfoFile)(nil)
)

// subrootStates are the states a root's info.json shows: blob stats
// alone (no --verify in a mount).
var subrootStates = []string{"ok", proofrisk.Missing, proofrisk.WrongSize, proofrisk.Unresolvable, proofrisk.Unreadable}

// statePlaceholder stands for a state in the template: as wide as the
// widest state, of a character no other field holds.
var statePlaceholder = func() string {
	w := 0
	for _, s := range subrootStates {
		w = max(w, len(s))
	}
	return `"` + strings.Repeat("~", w) + `"`
}()

func newRootInfoFile(d *rootDir, blobs []pdpstate.Piece) (*rootInfoFile, error) {
	s0 := d.subs[0]
	info := rootInfo{ProofSet: s0.ProofSet, RootID: s0.RootID, Root: s0.Root, Subroots: make([]subrootInfo, len(d.subs))}
	if rc, err := cid.Decode(info.Root); err == nil {
		_, info.PaddedSize, _ = piece.Sizes(rc)
	}
	for i, s := range d.subs {
		info.Subroots[i] = subrootInfo{Offset: s.Offset, Size: s.Size, Piece: s.Piece, State: strings.Trim(statePlaceholder, `"`)}
		if blobs[i].Digest != nil {
			info.Subroots[i].Blob = blobstore.Name(blobs[i].Digest)
		}
	}
	tmpl, err := render.JSON(info)
	if err != nil {
		return nil, err
	}
	if n := bytes.Count(tmpl, []byte(statePlaceholder)); n != len(d.subs) {
		return nil, fmt.Errorf("root info: %d state placeholders for %d subroots", n, len(d.subs))
	}
	return &rootInfoFile{d: d, blobs: blobs, tmpl: tmpl}, nil
}

func (f *rootInfoFile) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.d.root.fileAttr(&out.Attr, int64(len(f.tmpl)), time.Time{})
	out.SetTimeout(f.d.root.cfg.RecordAttrTimeout)
	return 0
}

// statConcurrency bounds the blob stats of one open: a thousand HEADs
// one after another would take seconds on a remote store.
const statConcurrency = 16

func (f *rootInfoFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := openReadOnly(flags); errno != 0 {
		return nil, 0, errno
	}
	ctx, cancel := f.d.root.bound(ctx)
	defer cancel()
	states := make([]string, len(f.d.subs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, statConcurrency)
	for i, s := range f.d.subs {
		p := f.blobs[i]
		if p.Digest == nil {
			states[i] = proofrisk.Unresolvable
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			sub := proofrisk.Subroot{Subroot: s, Blob: p.Digest, BlobSize: p.Size}
			states[i] = "ok"
			if risk, _ := proofrisk.BlobRisk(ctx, f.d.root.stores.Blobs, &sub, proofrisk.Config{}); risk != "" {
				states[i] = risk
			}
		})
	}
	wg.Wait()
	data := make([]byte, 0, len(f.tmpl))
	rest := f.tmpl
	for _, st := range states {
		i := bytes.Index(rest, []byte(statePlaceholder))
		data = append(data, rest[:i]...)
		data = append(data, '"')
		data = append(data, st...)
		data = append(data, '"')
		data = append(data, strings.Repeat(" ", len(statePlaceholder)-len(st)-2)...)
		rest = rest[i+len(statePlaceholder):]
	}
	data = append(data, rest...)
	// No KEEP_CACHE: each open shows the states at that open.
	return &snapshotHandle{data: data}, 0, 0
}

func (f *rootInfoFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := fh.(*snapshotHandle)
	if !ok {
		return nil, syscall.EBADF
	}
	return f.d.root.serveBytes(h.data, dest, off), 0
}

// pendingDir is /pdp/pending: a file per root add not yet confirmed,
// <proof set>-<root CID>.json; a failed one says so, and the fix.
type pendingDir struct {
	fs.Inode
	dir
	v *pdpView
}

var (
	_ fs.NodeReaddirer = (*pendingDir)(nil)
	_ fs.NodeLookuper  = (*pendingDir)(nil)
	_ fs.NodeGetattrer = (*pendingDir)(nil)
)

type pendingAdd struct {
	ProofSet    int64         `json:"proofset"`
	Root        string        `json:"root"`
	MessageHash string        `json:"add_message_hash"`
	State       string        `json:"state"` // pending, failed
	Fix         string        `json:"fix,omitempty"`
	Subroots    []subrootInfo `json:"subroots"`
}

// adds is every root add, by file name.
func (d *pendingDir) adds(ctx context.Context) (map[string]*pendingAdd, []string, error) {
	pieces, err := d.v.piecesNow(ctx, d.root.cfg.RecordTimeout)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]*pendingAdd{}
	var names []string
	err = d.v.db.RootAdds(ctx, func(a pdpstate.RootAdd) bool {
		name := fmt.Sprintf("%d-%s.json", a.ProofSet, a.Root)
		p := byName[name]
		if p == nil {
			p = &pendingAdd{ProofSet: a.ProofSet, Root: a.Root, MessageHash: a.AddMessageHash, State: "pending"}
			if a.Failed {
				p.State, p.Fix = "failed", fmt.Sprintf("the add transaction failed and Piri does not retry it: piri client pdp proofset repair (proof set %d)", a.ProofSet)
			}
			byName[name] = p
			names = append(names, name)
		}
		si := subrootInfo{Offset: a.Offset, Size: a.Size, Piece: a.Piece, State: p.State}
		if pc, ok := pieces.Get(a.Piece); ok {
			si.Blob = blobstore.Name(pc.Digest)
		}
		p.Subroots = append(p.Subroots, si)
		return true
	})
	sort.Strings(names)
	return byName, names, err
}

func (d *pendingDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	_, names, err := d.adds(ctx)
	if err != nil {
		return nil, d.pdpErrno("readdir", "/pdp/pending", err)
	}
	var out []fuse.DirEntry
	for _, n := range names {
		out = append(out, fuse.DirEntry{Name: n, Mode: syscall.S_IFREG})
	}
	return fs.NewListDirStream(out), 0
}

func (d *pendingDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	adds, _, err := d.adds(ctx)
	if err != nil {
		return nil, d.pdpErrno("lookup", "/pdp/pending/"+name, err)
	}
	a := adds[name]
	if a == nil {
		return d.missing(out)
	}
	data, err := render.JSON(a)
	if err != nil {
		return nil, d.pdpErrno("lookup", "/pdp/pending/"+name, err)
	}
	return d.file(ctx, &d.Inode, data, out), 0
}

// piecesDir is /pdp/pieces: a relative symlink per piece the node has a
// commP for, to its blob.
type piecesDir struct {
	fs.Inode
	dir
	v *pdpView
}

var (
	_ fs.NodeReaddirer = (*piecesDir)(nil)
	_ fs.NodeLookuper  = (*piecesDir)(nil)
	_ fs.NodeGetattrer = (*piecesDir)(nil)
)

func (d *piecesDir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	pieces, err := d.v.piecesNow(ctx, d.root.cfg.RecordTimeout)
	if err != nil {
		return nil, d.pdpErrno("readdir", "/pdp/pieces", err)
	}
	names := make([]string, 0, pieces.Len())
	for p := range pieces.Each {
		names = append(names, p.CID)
	}
	sort.Strings(names)
	out := make([]fuse.DirEntry, len(names))
	for i, n := range names {
		out[i] = fuse.DirEntry{Name: n, Mode: syscall.S_IFLNK}
	}
	return fs.NewListDirStream(out), 0
}

func (d *piecesDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	pieces, err := d.v.piecesNow(ctx, d.root.cfg.RecordTimeout)
	if err != nil {
		return nil, d.pdpErrno("lookup", "/pdp/pieces/"+name, err)
	}
	p, ok := pieces.Get(name)
	if !ok || strings.Contains(name, "/") {
		return d.missing(out)
	}
	return d.symlink(ctx, &d.Inode, name, "../../blobs/"+blobstore.Name(p.Digest), out), 0
}

// Each directory of /pdp is named by what it holds; the rest is read when
// asked. A root's subroots never change while it exists.
func (d *proofSetsDir) sameDir(fresh fs.InodeEmbedder) bool {
	_, ok := fresh.(*proofSetsDir)
	return ok
}
func (d *pendingDir) sameDir(fresh fs.InodeEmbedder) bool { _, ok := fresh.(*pendingDir); return ok }
func (d *piecesDir) sameDir(fresh fs.InodeEmbedder) bool  { _, ok := fresh.(*piecesDir); return ok }

func (d *proofSetDir) sameDir(fresh fs.InodeEmbedder) bool {
	f, ok := fresh.(*proofSetDir)
	return ok && f.id == d.id
}

func (d *rootsDir) sameDir(fresh fs.InodeEmbedder) bool {
	f, ok := fresh.(*rootsDir)
	return ok && f.id == d.id
}

func (d *rootDir) sameDir(fresh fs.InodeEmbedder) bool {
	f, ok := fresh.(*rootDir)
	return ok && slices.Equal(f.subs, d.subs)
}
