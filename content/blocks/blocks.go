// Package blocks reads an upload's blocks where they lie on the node: the
// catalogue says which shard holds a block and where, the shard's read
// stack (the one /blobs reads through, disk cache included) reads those
// bytes, and they are hashed against the block's CID before anyone sees
// them.
package blocks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/content/unixfs"
	"github.com/storacha/storefs/readstack"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/carblob"
	"github.com/storacha/storefs/store/catalog"
)

var (
	// ErrNotLocated: the catalogue knows no place for the block.
	ErrNotLocated = errors.New("not located on this node")
	// ErrMismatch: the bytes where the block should be do not hash to
	// its CID.
	ErrMismatch = errors.New("bytes do not match the CID")
	// ErrTooLarge: a block larger than any a client writes.
	ErrTooLarge = errors.New("block too large")
)

// MissingShardError is a block whose shards this node does not have.
type MissingShardError struct {
	CID    cid.Cid
	Shards []mh.Multihash
}

func (e *MissingShardError) Error() string {
	return fmt.Sprintf("block %s: in shard %s, which this node does not have", e.CID, blobstore.Name(e.Shards[0]))
}

// Options shape a source.
type Options struct {
	Log *slog.Logger
	// Parts splits the read of a block a reader waits for (unixfs.Waiting)
	// into up to this many ranged reads at once, none under minPart:
	// on a remote store a 1 MiB leaf then costs one round trip and a
	// quarter of its transfer, not all of it. Blocks fetched ahead are
	// read whole (one request each). 0 or 1: whole.
	Parts int
}

// minPart is the smallest part of a split block read.
const minPart = 256 << 10

// Source gives blocks from the node's shards.
type Source struct {
	cat   *catalog.Catalog
	stack *readstack.Stack
	log   *slog.Logger
	parts int
	// told holds the shards logged missing and the blocks logged bad:
	// one line each.
	told sync.Map
}

// New makes a source.
func New(cat *catalog.Catalog, stack *readstack.Stack, o Options) *Source {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Source{cat: cat, stack: stack, log: o.Log, parts: o.Parts}
}

// Block reads the block of c, checked against c. A block in a shard this
// node lacks is a *MissingShardError at once, logged once per shard.
func (s *Source) Block(ctx context.Context, c cid.Cid) ([]byte, error) {
	locs, err := s.Locate(ctx, c)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for _, l := range locs {
		if !l.Here {
			continue
		}
		data, err := s.read(ctx, c, l)
		if err == nil {
			return data, nil
		}
		lastErr = err
		if errors.Is(err, context.Canceled) {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	missing := &MissingShardError{CID: c}
	for _, l := range locs {
		missing.Shards = append(missing.Shards, l.Shard)
		if s.News("shard " + string(l.Shard)) {
			s.log.Warn("a block lies in a shard this node does not have", "shard", blobstore.Name(l.Shard), "block", c.String())
		}
	}
	return nil, missing
}

// News says whether what key names is news, to be logged: true the
// first time it is asked of the source, false after. A read the kernel
// retries, or another reader's, then adds no log line.
func (s *Source) News(key string) bool {
	_, seen := s.told.LoadOrStore(key, true)
	return !seen
}

// Locate is every place the catalogue knows the block of c lies, those on
// this node first.
func (s *Source) Locate(ctx context.Context, c cid.Cid) ([]catalog.Location, error) {
	locs, err := s.cat.Find(ctx, c.Hash())
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", c, err)
	}
	if len(locs) == 0 {
		return nil, fmt.Errorf("block %s: %w", c, ErrNotLocated)
	}
	return locs, nil
}

func (s *Source) read(ctx context.Context, c cid.Cid, l catalog.Location) ([]byte, error) {
	if l.Length > carblob.MaxSection {
		return nil, fmt.Errorf("block %s: %w (%d bytes in %s)", c, ErrTooLarge, l.Length, blobstore.Name(l.Shard))
	}
	if l.Offset+l.Length > uint64(l.ShardSize) {
		return nil, fmt.Errorf("block %s: %w: it lies past the end of %s", c, ErrMismatch, blobstore.Name(l.Shard))
	}
	data := make([]byte, l.Length)
	parts := 1
	if s.parts > 1 && unixfs.Waiting(ctx) {
		parts = int(min(uint64(s.parts), max(l.Length/minPart, 1)))
	}
	blob := s.stack.Blob(l.Shard, l.ShardSize)
	readPart := func(ctx context.Context, from, to uint64) error {
		if from == to {
			return nil
		}
		body, err := blob.ReadRange(ctx, int64(l.Offset+from), int64(to-from))
		if err != nil {
			return err
		}
		defer body.Close()
		_, err = io.ReadFull(body, data[from:to])
		return err
	}
	var err error
	if parts == 1 {
		err = readPart(ctx, 0, l.Length)
	} else {
		errs := make([]error, parts)
		var wg sync.WaitGroup
		for i := range parts {
			wg.Go(func() { errs[i] = readPart(ctx, l.Length*uint64(i)/uint64(parts), l.Length*uint64(i+1)/uint64(parts)) })
		}
		wg.Wait()
		err = errors.Join(errs...)
	}
	if err != nil {
		return nil, fmt.Errorf("block %s in %s: %w", c, blobstore.Name(l.Shard), err)
	}
	if !carblob.BlockMatches(c, data) {
		if s.News("bad " + c.KeyString()) {
			s.log.Error("a block does not match its CID; not served", "block", c.String(), "shard", blobstore.Name(l.Shard), "offset", l.Offset)
		}
		return nil, fmt.Errorf("block %s in %s: %w", c, blobstore.Name(l.Shard), ErrMismatch)
	}
	return data, nil
}
