package blocks_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/content/blocks"
	"github.com/storacha/storefs/content/unixfs"
	"github.com/storacha/storefs/internal/testsupport/uploads"
	"github.com/storacha/storefs/readstack"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/catalog"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/memory"
)

// counting counts the ranged reads that reach the store.
type counting struct {
	blobstore.Store
	gets atomic.Int64
}

func (c *counting) Get(ctx context.Context, d mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, d, opts...)
}

// waitingCtx is the context of a fetch a reader waits for.
func waitingCtx(t *testing.T, g unixfs.Blocks, big cid.Cid) context.Context {
	t.Helper()
	// A Reader marks its own fetches; a probe catches the mark.
	p := &probe{Blocks: g}
	n, err := unixfs.Load(context.Background(), p, big)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := unixfs.NewFile(p, n)
	r := f.Reader(0)
	defer r.Close()
	r.ReadAt(context.Background(), make([]byte, 1), 0)
	return p.ctx
}

type probe struct {
	unixfs.Blocks
	ctx context.Context
}

func (p *probe) Block(ctx context.Context, c cid.Cid) ([]byte, error) {
	if unixfs.Waiting(ctx) {
		p.ctx = context.WithoutCancel(ctx)
	}
	return p.Blocks.Block(ctx, c)
}

// A block comes from where the catalogue puts it, checked; one a reader
// waits for is read in parts at once; a flipped byte, a shard this node
// lacks and a CID nobody located are each told apart.
func TestSource(t *testing.T) {
	ctx := context.Background()
	big := make([]byte, 3<<20)
	rand.NewChaCha8([32]byte{1}).Read(big)
	d, err := uploads.Import([]uploads.Entry{{Path: "big", Data: big}, {Path: "small", Data: []byte("small")}}, uploads.Options{Chunk: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	u, err := uploads.JS(1500 << 10).Pack(d)
	if err != nil {
		t.Fatal(err)
	}
	store := &counting{Store: blobstore.New(memory.New(), blobstore.S3{})}
	// The node lacks the shard of big's first leaf (not small's).
	missing := u.Slices[string(d.Blocks[0].CID.Hash())].Shard
	if bytes.Equal(missing, u.Slices[string(d.Files["small"].Hash())].Shard) {
		t.Fatal("the test wants small and big's first leaf in different shards")
	}
	for _, b := range append(append([]uploads.Blob{}, u.Shards...), u.Indexes...) {
		if bytes.Equal(b.Digest, missing) {
			continue
		}
		if err := store.Put(ctx, b.Digest, int64(len(b.Data)), bytes.NewReader(b.Data)); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := catalog.Open(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	quiet := slog.New(slog.DiscardHandler)
	if _, err := cat.Refresh(ctx, store, catalog.Options{Log: quiet}); err != nil {
		t.Fatal(err)
	}
	src := blocks.New(cat, readstack.New(readstack.Config{Blobs: store, Log: quiet}), blocks.Options{Log: quiet, Parts: 4})

	var leaf uploads.Block // a 1 MiB leaf in a shard that is here
	for _, b := range d.Blocks {
		if len(b.Data) == 1<<20 && !bytes.Equal(u.Slices[string(b.CID.Hash())].Shard, missing) {
			leaf = b
			break
		}
	}
	before := store.gets.Load()
	got, err := src.Block(ctx, leaf.CID)
	if err != nil || !bytes.Equal(got, leaf.Data) || store.gets.Load()-before != 1 {
		t.Fatalf("a leaf fetched ahead: %v, %d reads", err, store.gets.Load()-before)
	}
	waiting := waitingCtx(t, src, d.Files["small"])
	before = store.gets.Load()
	got, err = src.Block(waiting, leaf.CID)
	if err != nil || !bytes.Equal(got, leaf.Data) || store.gets.Load()-before != 4 {
		t.Fatalf("a leaf a reader waits for: %v, %d reads, want 4 parts", err, store.gets.Load()-before)
	}

	var gone uploads.Block
	for _, b := range d.Blocks {
		if bytes.Equal(u.Slices[string(b.CID.Hash())].Shard, missing) {
			gone = b
		}
	}
	var ms *blocks.MissingShardError
	if _, err := src.Block(ctx, gone.CID); !errors.As(err, &ms) || !bytes.Equal(ms.Shards[0], missing) {
		t.Fatalf("a block in a shard not here: %v", err)
	}
	nowhere, _ := mh.Sum([]byte("nowhere"), mh.SHA2_256, -1)
	if _, err := src.Block(ctx, cid.NewCidV1(cid.Raw, nowhere)); !errors.Is(err, blocks.ErrNotLocated) {
		t.Fatalf("a block nobody located: %v", err)
	}
	// The same multihash under another codec is not the same block.
	if _, err := src.Block(ctx, cid.NewCidV1(cid.DagCBOR, leaf.CID.Hash())); err != nil {
		t.Fatalf("a CID's bytes are its multihash's: %v", err)
	}
	sl := u.Slices[string(leaf.CID.Hash())]
	var shard uploads.Blob
	for _, s := range u.Shards {
		if bytes.Equal(s.Digest, sl.Shard) {
			shard = s
		}
	}
	bad := bytes.Clone(shard.Data)
	bad[sl.Offset+10] ^= 1
	flipped := &flipStore{Store: store, digest: shard.Digest, data: bad}
	src2 := blocks.New(cat, readstack.New(readstack.Config{Blobs: flipped, Log: quiet}), blocks.Options{Log: quiet})
	if _, err := src2.Block(ctx, leaf.CID); !errors.Is(err, blocks.ErrMismatch) {
		t.Fatalf("a flipped byte: %v", err)
	}
}

// flipStore serves other bytes for one blob.
type flipStore struct {
	blobstore.Store
	digest mh.Multihash
	data   []byte
}

func (f *flipStore) Get(ctx context.Context, d mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error) {
	if !bytes.Equal(d, f.digest) {
		return f.Store.Get(ctx, d, opts...)
	}
	m := memory.New()
	if err := m.Put(ctx, "x", int64(len(f.data)), bytes.NewReader(f.data)); err != nil {
		return nil, err
	}
	return m.Get(ctx, "x", opts...)
}
