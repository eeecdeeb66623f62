package fusefs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/pool"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/genericstore"
	"github.com/storacha/storefs/store/objectstore"
)

// indexJobs is how many acceptances the index reads at once: on S3 each
// is a request.
const indexJobs = 8

// spacesTTL is how long the index of acceptances serves /spaces before
// the next use rebuilds it.
const spacesTTL = time.Minute

// spaceIndex is /spaces: which space accepted which stored blob, from the
// acceptance store, joined with one blob listing so that an accepted
// blob the node does not store is left out (and logged: `storefs check`
// reports it as missing-blob). Built at first use, rebuilt after
// spacesTTL.
type spaceIndex struct {
	root  *Root
	store *acceptancestore.Store
	mu    sync.Mutex
	built time.Time
	cur   *spaceTable
}

type spaceTable struct {
	spaces []string               // sorted
	blobs  map[string][]spaceBlob // by space, sorted by name
	links  map[string]uint32      // string(digest) -> spaces that accepted it
}

type spaceBlob struct {
	name   string
	digest mh.Multihash
	size   int64 // as stored where the listing said, else the acceptance's
	mtime  time.Time
}

// table returns the index, building it when it is missing or old.
func (x *spaceIndex) table(ctx context.Context) (*spaceTable, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.cur != nil && time.Since(x.built) < spacesTTL {
		return x.cur, nil
	}
	t, err := x.build(ctx)
	if err != nil {
		return nil, err
	}
	x.cur, x.built = t, time.Now()
	return t, nil
}

// loaded is the index if one was built, without building one: a blob's
// link count comes from it, and a listing of /blobs must not pay for
// reading every acceptance.
func (x *spaceIndex) loaded() *spaceTable {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cur
}

func (x *spaceIndex) build(ctx context.Context) (*spaceTable, error) {
	type stored struct {
		size  int64
		mtime time.Time
		sized bool
	}
	have := map[string]stored{}
	if files := x.root.files; files != nil {
		for info, err := range files.ListNames(ctx, nil) {
			if err != nil {
				return nil, err
			}
			have[info.Key] = stored{}
		}
	} else {
		for info, err := range x.root.stores.Blobs.List(ctx) {
			if err != nil {
				return nil, err
			}
			have[blobstore.Name(info.Digest)] = stored{size: info.Size, mtime: info.ModTime, sized: true}
		}
	}
	t := &spaceTable{blobs: map[string][]spaceBlob{}, links: map[string]uint32{}}
	get := func(ctx context.Context, e genericstore.Entry) (acceptancestore.Acceptance, error) {
		return x.store.Get(ctx, e.ID)
	}
	err := pool.Each(ctx, indexJobs, x.store.List(ctx, ""), get, func(e genericstore.Entry, a acceptancestore.Acceptance, err error) error {
		switch {
		case errors.Is(err, genericstore.ErrCorrupt):
			x.root.log.Error("an acceptance does not decode; left out of /spaces", "key", e.ID, "err", err)
			return nil
		case errors.Is(err, objectstore.ErrNotExist): // deleted since listed
			return nil
		case err != nil:
			return err
		}
		name := blobstore.Name(a.Digest)
		s, ok := have[name]
		if !ok {
			x.root.log.Warn("an accepted blob is not stored; left out of /spaces (storefs check: missing-blob)", "blob", name, "space", a.Space)
			return nil
		}
		size := a.Size
		if s.sized {
			size = s.size
		}
		t.blobs[a.Space] = append(t.blobs[a.Space], spaceBlob{name: name, digest: a.Digest, size: size, mtime: s.mtime})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for space, list := range t.blobs {
		slices.SortFunc(list, func(a, b spaceBlob) int { return cmp.Compare(a.name, b.name) })
		list = slices.CompactFunc(list, func(a, b spaceBlob) bool { return a.name == b.name })
		t.blobs[space] = list
		t.spaces = append(t.spaces, space)
		for _, b := range list {
			t.links[string(b.digest)]++
		}
	}
	slices.Sort(t.spaces)
	return t, nil
}

// listing is a directory handle over what entries yields of the index.
func (x *spaceIndex) listing(path string, entries func(*spaceTable, func(fuse.DirEntry, error) bool)) fs.FileHandle {
	return newDirHandle(x.root.ctx, func(ctx context.Context) iter.Seq2[dirEntry, error] {
		return names(func(yield func(fuse.DirEntry, error) bool) {
			t, err := x.table(ctx)
			if err != nil {
				yield(fuse.DirEntry{}, err)
				return
			}
			entries(t, yield)
		})
	}, func(err error) syscall.Errno { return x.root.toErrno("readdir", path, err) })
}

func (t *spaceTable) find(space, name string) (spaceBlob, bool) {
	list := t.blobs[space]
	i, ok := slices.BinarySearchFunc(list, name, func(b spaceBlob, n string) int { return cmp.Compare(b.name, n) })
	if !ok {
		return spaceBlob{}, false
	}
	return list[i], true
}

// spacesDir is /spaces: one directory per space the node accepted
// blobs for.
type spacesDir struct {
	fs.Inode
	dir
	index *spaceIndex
}

var (
	_ fs.NodeOpendirHandler = (*spacesDir)(nil)
	_ fs.NodeLookuper       = (*spacesDir)(nil)
	_ fs.NodeGetattrer      = (*spacesDir)(nil)
)

func (d *spacesDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return d.index.listing("/spaces", func(t *spaceTable, yield func(fuse.DirEntry, error) bool) {
		for _, s := range t.spaces {
			if !yield(fuse.DirEntry{Name: s, Mode: syscall.S_IFDIR}, nil) {
				return
			}
		}
	}), 0, 0
}

func (d *spacesDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx, cancel := d.root.bound(ctx)
	defer cancel()
	t, err := d.index.table(ctx)
	if err != nil {
		return nil, d.root.toErrno("lookup", "/spaces/"+name, err)
	}
	if _, ok := t.blobs[name]; !ok {
		out.SetEntryTimeout(d.root.cfg.NegativeTimeout)
		return nil, syscall.ENOENT
	}
	d.root.dirAttr(&out.Attr)
	out.SetEntryTimeout(d.root.cfg.RecordTimeout)
	out.SetAttrTimeout(d.root.cfg.RecordAttrTimeout)
	if ch := d.GetChild(name); ch != nil {
		return ch, 0
	}
	return d.NewInode(ctx, &spaceDir{dir: d.dir, index: d.index, space: name}, fs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

// spaceDir is /spaces/<space DID>: the blobs the space accepted, each
// the very inode /blobs/<b32> is.
type spaceDir struct {
	fs.Inode
	dir
	index *spaceIndex
	space string
}

// Its LOOKUPs are blobsFS's: blob nodes live outside go-fuse's tree.
var (
	_ fs.NodeOpendirHandler = (*spaceDir)(nil)
	_ fs.NodeGetattrer      = (*spaceDir)(nil)
)

// OpendirHandle lists from the index: no blob request per entry.
func (d *spaceDir) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return d.index.listing("/spaces/"+d.space, func(t *spaceTable, yield func(fuse.DirEntry, error) bool) {
		for _, b := range t.blobs[d.space] {
			if !yield(fuse.DirEntry{Name: b.name, Mode: syscall.S_IFREG}, nil) {
				return
			}
		}
	}), 0, 0
}

// lookupBlob answers a LOOKUP in /spaces/<space> (blobsFS's): the blob's
// node, the very one /blobs/<b32> is.
func (x *spaceIndex) lookupBlob(ctx context.Context, space, name string, out *fuse.EntryOut) syscall.Errno {
	r := x.root
	ctx, cancel := r.bound(ctx)
	defer cancel()
	t, err := x.table(ctx)
	if err != nil {
		return r.toErrno("lookup", "/spaces/"+space+"/"+name, err)
	}
	b, ok := t.find(space, name)
	if !ok {
		return syscall.ENOENT
	}
	// The index has the listed size; a local file is learnt as /blobs
	// learns it (a node the kernel holds keeps what it was first told).
	meta := blobMeta{size: b.size, mtime: b.mtime}
	if r.files != nil {
		if meta, err = r.learnBlob(ctx, b.digest); err != nil {
			return r.toErrno("lookup", fmt.Sprintf("/spaces/%s/%s", space, name), err)
		}
	}
	r.blobEntry(out, b.digest, meta)
	return 0
}
