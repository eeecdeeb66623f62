package check

import (
	"bytes"
	"context"
	"fmt"
	"hash"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/catalog"
)

// uploads reports, from the catalogue's indexes, the uploads whose
// shards are all on this node, and the shards indexes here name that
// are stored elsewhere.
func (a *auditor) uploads(ctx context.Context) error {
	if a.cfg.Catalog == nil {
		return nil
	}
	return a.cfg.Catalog.Indexes(ctx, func(ix catalog.IndexView) bool {
		name := blobstore.Name(ix.Digest)
		elsewhere := 0
		for _, s := range ix.Shards {
			if s.Here {
				continue
			}
			elsewhere++
			a.found(ShardElsewhere, Finding{Blob: blobstore.Name(s.Digest), Detail: fmt.Sprintf("named by index %s (content %s)", name, ix.Content)})
		}
		if elsewhere == 0 {
			a.found(Upload, Finding{Blob: name, Detail: fmt.Sprintf("content %s: %d shards, all here; %d slices", ix.Content, len(ix.Shards), ix.Slices)})
		}
		return true
	})
}

// slicesOf are the catalogued slices of a blob worth hashing: not the
// blob's own slice (the JS client indexes each shard whole), which the
// blob's check covers.
func (a *auditor) slicesOf(ctx context.Context, digest mh.Multihash) ([]catalog.Slice, error) {
	if a.cfg.Catalog == nil {
		return nil, nil
	}
	all, err := a.cfg.Catalog.SlicesOf(ctx, digest)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, s := range all {
		if !bytes.Equal(s.Digest, digest) {
			out = append(out, s)
		}
	}
	return out, nil
}

func nameOrScan(index mh.Multihash) string {
	if index == nil {
		return "(a scan of the shard)"
	}
	return blobstore.Name(index)
}

// sliceCheck hashes the slices of a blob as its bytes stream past once,
// in order: each slice is hashed with its multihash's function from its
// first byte to its last.
type sliceCheck struct {
	slices []catalog.Slice // by offset
	next   int             // the first slice not yet begun
	active []activeSlice
	pos    uint64
	failed []catalog.Slice
}

type activeSlice struct {
	s    catalog.Slice
	h    hash.Hash
	left uint64
}

func newSliceCheck(slices []catalog.Slice) *sliceCheck { return &sliceCheck{slices: slices} }

func (c *sliceCheck) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		for c.next < len(c.slices) && c.slices[c.next].Offset <= c.pos {
			s := c.slices[c.next]
			c.next++
			if s.Offset < c.pos { // overlapping an earlier one's start: cannot be hashed in one pass
				continue
			}
			dec, err := mh.Decode(s.Digest)
			if err != nil {
				c.failed = append(c.failed, s)
				continue
			}
			h, err := mh.GetHasher(dec.Code)
			if err != nil {
				continue // a function this build cannot compute: said nothing of
			}
			c.active = append(c.active, activeSlice{s: s, h: h, left: s.Length})
			if s.Length == 0 {
				c.finish(len(c.active) - 1)
			}
		}
		step := uint64(len(p))
		if c.next < len(c.slices) && c.slices[c.next].Offset > c.pos {
			step = min(step, c.slices[c.next].Offset-c.pos)
		}
		for i := 0; i < len(c.active); i++ {
			a := &c.active[i]
			k := min(step, a.left)
			a.h.Write(p[:k])
			a.left -= k
			if a.left == 0 {
				c.finish(i)
				i--
			}
		}
		p = p[step:]
		c.pos += step
	}
	return n, nil
}

// finish checks active slice i and lets it go.
func (c *sliceCheck) finish(i int) {
	a := c.active[i]
	dec, _ := mh.Decode(a.s.Digest)
	sum := a.h.Sum(nil)
	if dec.Length >= 0 && dec.Length <= len(sum) {
		sum = sum[:dec.Length]
	}
	if !bytes.Equal(sum, dec.Digest) {
		c.failed = append(c.failed, a.s)
	}
	c.active = append(c.active[:i], c.active[i+1:]...)
}

// bad are the slices that did not match, and those past the blob's end
// (never finished).
func (c *sliceCheck) bad() []catalog.Slice {
	out := c.failed
	for _, a := range c.active {
		out = append(out, a.s)
	}
	return append(out, c.slices[c.next:]...)
}
