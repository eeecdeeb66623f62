// Package fusefs is the filesystem storefs mounts: a go-fuse node tree over
// the blob store and the typed record stores. It knows only the store
// interfaces, never a backend.
//
//	/blobs/<b32>                          blob bytes (aliases: CID, base58btc, upper-case)
//	/allocations/<b32>/<space DID>.json   and .cbor
//	/acceptances/<b32>/<space DID>.json   and .cbor
//	/consolidations/<batch CID>.json      and .cbor
//	/delegations/<CID>.json               and .car
//	/receipts/<CID>.json                  and .car
//	/receipts/by-ran/<ran CID>            symlink to ../<CID>.json
//	/spaces/<space DID>/<b32>             each blob the space accepted: the /blobs inode
//	/egress/<batch CID>.car               retrieval-journal batches, and .json; wip.car, wip.json
//	/cars/<b32>/roots                     each CAR blob the catalogue knows: its roots,
//	/cars/<b32>/blocks/<CID>              its blocks (checked against their CIDs),
//	/cars/<b32>/index.json, shards/<b32>  and for an index, the index and links to its shards
//	/content/<CID>/path…                  the files inside uploads, read in place, every block checked
//	/pdp/proofsets/<id>/info.json         PDP proof sets: their standing, roots, the blobs behind
//	/pdp/proofsets/<id>/roots/<root>/…    each subroot (symlinks), pending root adds, pieces
package fusefs

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/storacha/storefs/content/blocks"
	"github.com/storacha/storefs/internal/helpers/metrics"
	"github.com/storacha/storefs/readstack"
	"github.com/storacha/storefs/readstack/prefetch"
	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/blobcache"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/catalog"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/pdpstate"
	"github.com/storacha/storefs/store/records"
	"github.com/storacha/storefs/store/retrievaljournal"
	"github.com/storacha/storefs/store/spaceindex"
)

// Stores are what the filesystem shows. Nil record stores are left out.
type Stores struct {
	Blobs blobstore.Store
	records.Stores
	// Journal is the retrieval journal (/egress); nil: none.
	Journal *retrievaljournal.Journal
}

// Config is everything a mount is made of: what the kernel is told and
// how the tree answers. A zero value means what it says; the defaults
// of the settings are mountopts.Table's (mountopts.Defaults).
type Config struct {
	// FsName is the mount's source as /proc/mounts shows it.
	FsName             string
	AllowOther         bool
	DefaultPermissions bool
	// Debug traces every FUSE request.
	Debug bool
	// ReadAheadKB is the kernel readahead of the mount; 0 leaves the
	// kernel's own.
	ReadAheadKB int

	// Verify checks every blob read whole against its multihash (see
	// blobVerifier) and fails the READ that completes a corrupt one, and
	// every later one, with EIO.
	Verify bool
	// NoPassthrough keeps local blob files (flatfs) on the daemon's pread
	// path instead of FUSE passthrough. --verify implies it: passthrough
	// reads never reach the daemon.
	NoPassthrough bool
	// Prefetch shapes read-ahead for blobs read through the daemon; its
	// Budget bounds the memory of all read-ahead. Zero fields take
	// prefetch.Defaults; New refuses a config prefetch.Config.Check does.
	Prefetch prefetch.Config
	// RecordTimeout is the entry timeout of record files and
	// directories; RecordAttrTimeout their attribute timeout;
	// NegativeTimeout how long a missing name is remembered. Zero: the
	// kernel keeps nothing. (mountopts.Table states their defaults.)
	RecordTimeout, RecordAttrTimeout, NegativeTimeout time.Duration
	// OpTimeout bounds the backend work of one FUSE operation (a lookup,
	// a read, a getxattr), retries included; zero: none beyond the
	// backend's own per-request bound. Listings, which span many
	// operations, are bounded per backend request.
	OpTimeout time.Duration
	// Cache keeps blob bytes fetched from a remote store on local disk,
	// and outboards of blobs verified whole; nil: none. Unused for a
	// store of local files.
	Cache *blobcache.Cache
	// Catalog is the store's catalogue of what each blob is, shown as
	// /cars; nil: no /cars.
	Catalog *catalog.Catalog
	// PDP is the node's PDP state, shown as /pdp; nil: no /pdp.
	PDP *pdpstate.DB
	// Aggregator opens the node's aggregator datastore, shown under /pdp
	// beside PDP: each read opens, reads and closes it (a running node
	// holds it locked; a reader holding it would keep a node from
	// starting). Nil: none.
	Aggregator func() (*aggregator.DB, error)
	// JobQueue is the aggregator's job queues (nil: none): an aggregate
	// whose add_roots job is queued or dead says so.
	JobQueue *jobqueue.DB
	UID, GID uint32
	Log      *slog.Logger
	Metrics  *metrics.Metrics // nil: none
}

// blobTimeout is the entry and attribute timeout of blobs, which never
// change.
const blobTimeout = time.Hour

// Root is the filesystem's root directory.
type Root struct {
	fs.Inode
	stores Stores
	cfg    Config
	log    *slog.Logger
	// files is the blob store's local-file side, nil when it has none:
	// listings then carry sizes, and lookups GET a blob's head.
	files blobstore.Files
	// paths are the read paths opens choose from.
	paths readPaths
	// stack opens each blob's read stack.
	stack *readstack.Stack
	// kernelFlags are what the kernel granted, once mounted.
	kernelFlags atomic.Uint64
	// ctx outlives single requests: directory listings and sequential
	// streams span many of them. Cancelled at unmount.
	ctx    context.Context
	cancel context.CancelFunc
	pool   *prefetch.Pool
	heads  *headCache
	// nodes are the blob inodes the kernel holds: a blob is one inode
	// wherever it is looked up. Listings stop creating them ahead of
	// lookups at plusLimit.
	nodes *nodeTable
	// blobStats counts signs that names of /blobs are being stat'ed:
	// LOOKUPs there, and GETATTRs of blob nodes. Listings of local files
	// fill in nodes once there are any (blobsListing).
	blobStats atomic.Uint64
	// states are the open state of blob inodes, by node id.
	statesMu sync.Mutex
	states   map[uint64]*blobFile
	// forgets counts forgotten blob inodes; collecting is set while a
	// collection after a burst of them is pending.
	forgets    atomic.Int64
	collecting atomic.Bool
	blobs      *blobsDir
	pdp        *pdpView // nil: no PDP state
	spaces     *spaceindex.Index
	plusLimit  int64
	nodesFirst uint64
	// start is when the mount began: the time of directories, and of
	// records whose backend keeps none.
	start time.Time
}

var (
	_ fs.NodeOnAdder   = (*Root)(nil)
	_ fs.NodeStatfser  = (*Root)(nil)
	_ fs.NodeGetattrer = (*Root)(nil)
	_ fs.NodeLookuper  = (*Root)(nil)
)

// New builds the root of the tree. A prefetch config that could not work
// is an error.
func New(stores Stores, cfg Config) (*Root, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := prefetch.NewPool(ctx, cfg.Prefetch, cfg.Metrics.PrefetchInUse)
	if err != nil {
		cancel()
		return nil, err
	}
	r := &Root{stores: stores, cfg: cfg, log: cfg.Log, files: stores.Blobs.Files(), ctx: ctx, cancel: cancel, pool: pool,
		plusLimit: plusLimit, nodesFirst: nodesFirst, heads: newHeadCache(256), start: time.Now().Truncate(time.Second), nodes: newNodeTable(), states: map[uint64]*blobFile{}}
	r.spaces = spaceindex.New(ctx, stores.Acceptances, stores.Blobs, cfg.Log, r.collectSoon)
	r.paths = newReadPaths(r.files, cfg)
	sc := readstack.Config{Blobs: stores.Blobs, Verify: cfg.Verify, Log: cfg.Log, Metrics: cfg.Metrics}
	if r.files == nil { // local files need no cache
		sc.Cache = cfg.Cache
	}
	r.stack = readstack.New(sc)
	if cfg.PDP != nil {
		r.pdp = &pdpView{db: cfg.PDP, agg: cfg.Aggregator, jobs: cfg.JobQueue}
	}
	cfg.Metrics.ReadMode(r.paths.mode(0)) // told again by Mount once the kernel has answered
	cfg.Metrics.PrefetchBudget(pool.Config().Budget)
	return r, nil
}

// bound gives one FUSE operation's backend work its deadline.
func (r *Root) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.cfg.OpTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.cfg.OpTimeout)
}

// Close cancels listings and streams still open.
func (r *Root) Close() { r.cancel() }

func (r *Root) OnAdd(ctx context.Context) {
	r.blobs = &blobsDir{dir: dir{root: r}, sizes: newSizeCache(4 << 20)}
	dirs := map[string]fs.InodeEmbedder{"blobs": r.blobs}
	for _, k := range r.stores.Kinds() {
		dirs[k.Name] = &recordDir{dir: dir{root: r}, kind: k, ran: k.Ran}
	}
	if r.stores.Acceptances != nil {
		dirs["spaces"] = &spacesDir{dir: dir{root: r}, index: r.spaces}
	}
	if r.stores.Journal != nil {
		dirs["egress"] = &egressDir{dir: dir{root: r}, j: r.stores.Journal}
	}
	if r.cfg.Catalog != nil {
		dirs["cars"] = &carsDir{dir: dir{root: r}, cat: r.cfg.Catalog}
		// A remote store reads a leaf a reader waits for in parts at once.
		parts := 1
		if r.files == nil {
			parts = 4
		}
		dirs["content"] = &contentDir{dir: dir{root: r}, src: blocks.New(r.cfg.Catalog, r.stack, blocks.Options{Log: r.log, Parts: parts})}
	}
	if r.cfg.PDP != nil {
		dirs["pdp"] = &pdpDir{dir: dir{root: r}, v: r.pdp}
	}
	for name, node := range dirs {
		r.AddChild(name, r.NewPersistentInode(ctx, node, fs.StableAttr{Mode: syscall.S_IFDIR}), false)
	}
}

func (r *Root) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r.dirAttr(&out.Attr)
	out.SetTimeout(r.cfg.RecordAttrTimeout)
	return 0
}

// Lookup finds the top-level directories with their timeouts.
func (r *Root) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ch := r.GetChild(name)
	if ch == nil {
		out.SetEntryTimeout(r.cfg.NegativeTimeout)
		return nil, syscall.ENOENT
	}
	r.dirAttr(&out.Attr)
	out.SetEntryTimeout(r.cfg.RecordTimeout)
	out.SetAttrTimeout(r.cfg.RecordAttrTimeout)
	return ch, 0
}

// Statfs answers df and stale-mount checks without a backend request.
func (r *Root) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.Bsize = 4096
	out.Frsize = 4096
	out.NameLen = 255
	return 0
}

// dir gives a directory node its root and its attributes.
type dir struct {
	noXattrs
	root *Root
}

func (d dir) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.root.dirAttr(&out.Attr)
	out.SetTimeout(d.root.cfg.RecordAttrTimeout)
	return 0
}

// subdir, file and symlink make the inodes of what a lookup found under
// a directory of records, views of them and of the state (/cars, /pdp),
// with the record timeouts: each may change as the node works.
func (d dir) subdir(ctx context.Context, parent *fs.Inode, name string, node fs.InodeEmbedder, out *fuse.EntryOut) *fs.Inode {
	d.root.dirAttr(&out.Attr)
	out.SetEntryTimeout(d.root.cfg.RecordTimeout)
	out.SetAttrTimeout(d.root.cfg.RecordAttrTimeout)
	if ch := parent.GetChild(name); ch != nil {
		if old, ok := ch.Operations().(sameDirer); ok && old.sameDir(node) {
			return ch
		}
	}
	return parent.NewInode(ctx, node, fs.StableAttr{Mode: syscall.S_IFDIR})
}

// sameDirer is a directory that may stand for one looked up again: it
// holds what names it, and reads the rest when asked. The kernel then
// keeps what it has below it (the targets of /pdp's links: a READLINK
// round trip each, again, for ls -l of a new inode).
type sameDirer interface {
	sameDir(fresh fs.InodeEmbedder) bool
}

// file makes a rendered file's inode.
func (d dir) file(ctx context.Context, parent *fs.Inode, data []byte, out *fuse.EntryOut) *fs.Inode {
	d.root.fileAttr(&out.Attr, int64(len(data)), time.Time{})
	out.SetEntryTimeout(d.root.cfg.RecordTimeout)
	out.SetAttrTimeout(d.root.cfg.RecordAttrTimeout)
	return parent.NewInode(ctx, &recordFile{root: d.root, data: data}, fs.StableAttr{Mode: syscall.S_IFREG})
}

// symlink makes a relative symlink's inode, or keeps the one the kernel
// has when its target is the same: a new inode would cost the kernel the
// target it keeps (a READLINK round trip per link, again, for ls -l).
func (d dir) symlink(ctx context.Context, parent *fs.Inode, name, target string, out *fuse.EntryOut) *fs.Inode {
	out.SetEntryTimeout(d.root.cfg.RecordTimeout)
	out.SetAttrTimeout(d.root.cfg.RecordAttrTimeout)
	if ch := parent.GetChild(name); ch != nil {
		if l, ok := ch.Operations().(*link); ok && l.target == target {
			l.attr(&out.Attr)
			return ch
		}
	}
	l := &link{root: d.root, target: target}
	l.attr(&out.Attr)
	return parent.NewInode(ctx, l, fs.StableAttr{Mode: syscall.S_IFLNK})
}

// dirBlksize is the st_blksize of directories. glibc's readdir (ls,
// find, rsync) sizes its getdents buffer by it, up to 1 MiB, and the
// kernel asks for READDIR answers of that size (up to max_pages, 1 MiB
// with 4 KiB pages): a million names take ~80 round trips instead of
// ~2,500.
const dirBlksize = 1 << 20

// Directories are as old as the mount: what they list is live.
func (r *Root) dirAttr(a *fuse.Attr) {
	a.Mode = syscall.S_IFDIR | 0o555
	a.Nlink = 2
	a.Blksize = dirBlksize
	r.owner(a, r.start)
}

// fileAttr describes a file stored at mtime; a zero mtime (a backend that
// keeps none, such as LevelDB) is the mount's start. A file's times stay
// what they first were for the life of the mount: a changed mtime would
// make the kernel drop its page cache.
func (r *Root) fileAttr(a *fuse.Attr, size int64, mtime time.Time) {
	a.Mode = syscall.S_IFREG | 0o444
	a.Nlink = 1
	a.Size = uint64(size)
	a.Blocks = (uint64(size) + 511) / 512
	a.Blksize = 4096
	r.owner(a, mtime)
}

func (r *Root) owner(a *fuse.Attr, mtime time.Time) {
	a.Uid, a.Gid = r.cfg.UID, r.cfg.GID
	if mtime.IsZero() {
		mtime = r.start
	}
	a.SetTimes(&mtime, &mtime, &mtime)
}
