package fusefs

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/spaceindex"
)

// spacesDir is /spaces: one directory per space the node accepted
// blobs for.
type spacesDir struct {
	fs.Inode
	dir
	index *spaceindex.Index
}

var (
	_ fs.NodeOpendirHandler = (*spacesDir)(nil)
	_ fs.NodeLookuper       = (*spacesDir)(nil)
	_ fs.NodeGetattrer      = (*spacesDir)(nil)
)

// OpendirHandle lists the spaces of the index.
func (d *spacesDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	x := d.index
	return newDirHandle(d.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return func(yield func(dirEntry, error) bool) {
			t, err := x.Table(ctx)
			if err != nil {
				yield(dirEntry{}, err)
				return
			}
			for _, s := range t.Spaces() {
				if !yield(dirEntry{DirEntry: fuse.DirEntry{Name: s, Mode: syscall.S_IFDIR}}, nil) {
					return
				}
			}
		}
	}, func(err error) syscall.Errno { return d.root.toErrno("readdir", "/spaces", err) }), 0, 0
}

func (d *spacesDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	t, err := d.index.Table(ctx)
	if err != nil {
		return nil, d.root.toErrno("lookup", "/spaces/"+name, err)
	}
	if _, _, ok := t.Of(name); !ok {
		out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
		return nil, syscall.ENOENT
	}
	d.root.dirAttr(&out.Attr)
	out.SetEntryTimeout(d.root.cfg.RecordTimeout)
	out.SetAttrTimeout(d.root.cfg.RecordAttrTimeout)
	if ch := d.GetChild(name); ch != nil {
		return ch, 0
	}
	d.index.Hold()
	return d.NewInode(ctx, &spaceDir{dir: d.dir, index: d.index, space: name}, fs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

// spaceDir is /spaces/<space DID>: the blobs the space accepted, each
// the very inode /blobs/<b32> is.
type spaceDir struct {
	fs.Inode
	dir
	index *spaceindex.Index
	space string
}

// Its LOOKUPs and listings are blobsFS's: blob nodes live outside
// go-fuse's tree.
var (
	_ fs.NodeGetattrer   = (*spaceDir)(nil)
	_ fs.NodeOnForgetter = (*spaceDir)(nil)
)

func (d *spaceDir) OnForget() { d.index.Release() }

// blobListing is an open /spaces/<space>, which blobsFS answers as it
// answers /blobs: READDIRPLUS entries carry the blobs' nodes (sizes from
// the index on S3; on flatfs a stat of each file, ahead of the kernel),
// so that `ls -l`, `du` and `find | stat` send no LOOKUP per blob.
func (r *Root) spaceListing(space string) *blobsListing {
	l := &blobsListing{root: r, stats: r.blobStats.Load()}
	l.h = newDirHandle(r.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return func(yield func(dirEntry, error) bool) {
			t, err := r.spaces.Table(ctx)
			if err != nil {
				yield(dirEntry{}, err)
				return
			}
			lo, hi, _ := t.Of(space)
			batch := make([]dirEntry, 0, statBatch)
			for start := lo; start < hi; start += statBatch {
				// S3 rows carry sizes; local files are stat'ed only when
				// nodes are wanted, and are bare names otherwise.
				stat := r.files != nil && l.nodes(uint64(start-lo))
				batch = batch[:0]
				for i := start; i < min(start+statBatch, hi); i++ {
					d := t.Digest(i)
					e := dirEntry{DirEntry: fuse.DirEntry{Name: blobstore.Name(d), Mode: syscall.S_IFREG}}
					if r.files == nil || stat {
						e.digest = mh.Multihash(slices.Clone(d))
					}
					if r.files == nil {
						e.meta = blobMeta{size: t.Size(i), mtime: t.ModTime(i)}
					}
					batch = append(batch, e)
				}
				if stat {
					r.statFiles(ctx, batch)
				}
				for _, e := range batch {
					if !yield(e, nil) {
						return
					}
				}
			}
		}
	}, func(err error) syscall.Errno { return r.toErrno("readdir", "/spaces/"+space, err) })
	return l
}

// statBatch local files are stat'ed at once, on statJobs goroutines, by
// a space's listing: one stat after another in the READDIRPLUS handler
// made a walk of /spaces 2.8× the walk of the data dir.
const statBatch, statJobs = 256, 4

// statFiles learns the sizes of a batch of local blobs; where a stat
// fails the entry stays a bare name (digest nil), as plusEntry takes it.
func (r *Root) statFiles(ctx context.Context, batch []dirEntry) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(statJobs, len(batch)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(batch); i = int(next.Add(1) - 1) {
				meta, err := r.learnBlob(ctx, batch[i].digest)
				if err != nil {
					batch[i].digest = nil
					continue
				}
				batch[i].meta = meta
			}
		})
	}
	wg.Wait()
}

// lookupSpaceBlob answers a LOOKUP in /spaces/<space> (blobsFS's): the
// blob's node, the very one /blobs/<b32> is.
func (r *Root) lookupSpaceBlob(ctx context.Context, space, name string, out *fuse.EntryOut) syscall.Errno {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	t, err := r.spaces.Table(ctx)
	if err != nil {
		return r.toErrno("lookup", "/spaces/"+space+"/"+name, err)
	}
	i, ok := t.Find(space, name)
	if !ok {
		return syscall.ENOENT
	}
	// The index has the listed size; a local file is learnt as /blobs
	// learns it (a node the kernel holds keeps what it was first told).
	digest := mh.Multihash(slices.Clone(t.Digest(i)))
	meta := blobMeta{size: t.Size(i), mtime: t.ModTime(i)}
	if r.files != nil {
		if meta, err = r.learnBlob(ctx, digest); err != nil {
			return r.toErrno("lookup", fmt.Sprintf("/spaces/%s/%s", space, name), err)
		}
	}
	r.blobEntry(out, digest, meta)
	return 0
}
