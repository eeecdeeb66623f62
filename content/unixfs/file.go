package unixfs

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/ipfs/go-cid"
)

// A file is its root node's own data, then each child's bytes in link
// order, each child as long as the root's block size for it says; the
// same holds under every node, for balanced and trickle layouts alike.
// So a byte is found by descending from the root, and a read seeks
// without reading any leaf before it.

// segment is a run of a file's bytes one block holds: a leaf, or a
// node's own data.
type segment struct {
	c      cid.Cid
	off    uint64 // where it starts in the file
	length uint64
	// inner: the bytes are a dag-pb node's own Data (a leaf or an inner
	// node), not the whole block as a raw leaf's.
	inner bool
}

// File reads one file. Its inner nodes are kept once read (small: a few
// KiB to 50 KiB each, and a 1 GiB file of 1 MiB leaves has ~7 of them),
// so seeking costs a read of a leaf and no more.
type File struct {
	g    Blocks
	root *Node

	mu    sync.Mutex
	inner map[cid.Cid]*innerNode
}

// maxInner bounds the inner nodes a File keeps; past it, the oldest half
// is dropped (a file of billions of leaves).
const maxInner = 4096

// NewFile reads the file under root, a File node.
func NewFile(g Blocks, root *Node) (*File, error) {
	if root.Kind != KindFile {
		return nil, fmt.Errorf("%s: a %s, not a file", root.CID, root.Kind)
	}
	return &File{g: g, root: root, inner: map[cid.Cid]*innerNode{}}, nil
}

// Size is the file's length.
func (f *File) Size() uint64 { return f.root.Size }

// segmentAt is the segment holding byte off (< Size).
func (f *File) segmentAt(ctx context.Context, off uint64) (segment, error) {
	n, base := f.root, uint64(0)
	for depth := 0; ; depth++ {
		if n.CID.Prefix().Codec == cid.Raw {
			return segment{c: n.CID, off: base, length: n.Size}, nil
		}
		if off < base+uint64(len(n.Data)) || len(n.Links) == 0 {
			return segment{c: n.CID, off: base, length: uint64(len(n.Data)), inner: true}, nil
		}
		if depth >= MaxDepth {
			return segment{}, fmt.Errorf("%s: %w: a file nested past %d levels", f.root.CID, ErrBad, MaxDepth)
		}
		start := base + uint64(len(n.Data))
		i := 0
		for ; i < len(n.Links); i++ {
			if off < start+n.Sizes[i] {
				break
			}
			start += n.Sizes[i]
		}
		if i == len(n.Links) {
			return segment{}, fmt.Errorf("%s: offset %d past the file's end", f.root.CID, off)
		}
		l, want := n.Links[i], n.Sizes[i]
		if l.CID.Prefix().Codec == cid.Raw {
			// A raw leaf is fetched by the reader, whole; its size is
			// checked then.
			return segment{c: l.CID, off: start, length: want}, nil
		}
		child, err := f.node(ctx, l.CID)
		if err != nil {
			return segment{}, err
		}
		if child.Kind != KindFile || child.Size != want {
			return segment{}, fmt.Errorf("%s: %w: link %d names a %s of %d bytes, its block size says %d", n.CID, ErrBad, i, child.Kind, child.Size, want)
		}
		n, base = child, start
	}
}

// node is the decoded inner node c, from the kept ones or read now; reads
// at once of one node share one fetch.
func (f *File) node(ctx context.Context, c cid.Cid) (*Node, error) {
	f.mu.Lock()
	e := f.inner[c]
	if e == nil {
		if len(f.inner) >= maxInner {
			i := 0
			for k, old := range f.inner {
				if i++; i > maxInner/2 {
					break
				}
				if old.ready() {
					delete(f.inner, k)
				}
			}
		}
		e = &innerNode{done: make(chan struct{})}
		f.inner[c] = e
		f.mu.Unlock()
		e.n, e.err = Load(ctx, f.g, c)
		close(e.done)
		if e.err != nil {
			f.mu.Lock()
			delete(f.inner, c) // a failure is not kept: the next read tries again
			f.mu.Unlock()
		}
		return e.n, e.err
	}
	f.mu.Unlock()
	select {
	case <-e.done:
		return e.n, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// innerNode is an inner node read or being read.
type innerNode struct {
	done chan struct{}
	n    *Node
	err  error
}

func (e *innerNode) ready() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// bytesOf is a segment's bytes.
func (f *File) bytesOf(ctx context.Context, s segment) ([]byte, error) {
	if s.inner {
		if s.c == f.root.CID {
			return f.root.Data, nil // a dag-pb root's own data
		}
		n, err := f.node(ctx, s.c)
		if err != nil {
			return nil, err
		}
		return n.Data, nil
	}
	n, err := Load(ctx, f.g, s.c)
	if err != nil {
		return nil, err
	}
	if uint64(len(n.Data)) != s.length {
		return nil, fmt.Errorf("%s: %w: a raw leaf of %d bytes where its parent says %d", s.c, ErrBad, len(n.Data), s.length)
	}
	return n.Data, nil
}

// WriteTo writes the whole file to w, in order, with read-ahead: the
// blocks' own bytes, no copy between.
func (f *File) WriteTo(ctx context.Context, w io.Writer, ahead int) (int64, error) {
	r := f.Reader(ahead)
	defer r.Close()
	var done int64
	for uint64(done) < f.Size() {
		bufs, err := r.Slices(ctx, done, 1<<20)
		for _, b := range bufs {
			if _, werr := w.Write(b); werr != nil {
				return done, werr
			}
			done += int64(len(b))
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// BlocksOf yields the CIDs of the blocks n is made of, in order: a
// file's every block (its inner nodes are read, raw leaves are not), a
// directory's own block and its HAMT shards (not its entries'), a
// symlink's block.
func BlocksOf(ctx context.Context, g Blocks, n *Node, yield func(cid.Cid) bool) error {
	_, err := blocksOf(ctx, g, n, 0, yield)
	return err
}

func blocksOf(ctx context.Context, g Blocks, n *Node, depth int, yield func(cid.Cid) bool) (bool, error) {
	if depth > MaxDepth {
		return false, fmt.Errorf("%s: %w: nested past %d levels", n.CID, ErrBad, MaxDepth)
	}
	if !yield(n.CID) {
		return false, nil
	}
	for _, l := range n.Links {
		switch {
		case n.Kind == KindDir, n.Kind == KindHAMT && len(l.Name) > padLen(n.fanout):
			continue // an entry, not part of the directory
		case l.CID.Prefix().Codec == cid.Raw:
			if !yield(l.CID) {
				return false, nil
			}
			continue
		}
		child, err := Load(ctx, g, l.CID)
		if err != nil {
			return false, err
		}
		if more, err := blocksOf(ctx, g, child, depth+1, yield); !more || err != nil {
			return false, err
		}
	}
	return true, nil
}
