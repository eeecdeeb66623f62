package check_test

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/engine/check"
	"github.com/storacha/storefs/internal/testsupport/uploads"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/catalog"
)

// Uploads on the node: one whose shards are all here is an upload; one
// missing a shard says where the shard is not, as information. Under
// --verify, a block whose bytes rotted in its shard is a bad-slice,
// named with its index, beside the shard's hash-mismatch.
func TestUploadsAndSlices(t *testing.T) {
	ctx := context.Background()
	n := newTestNode(t)
	data := make([]byte, 400<<10)
	rand.NewChaCha8([32]byte{4}).Read(data)
	d, err := uploads.Import([]uploads.Entry{{Path: "f", Data: data}}, uploads.Options{Chunk: 16 << 10, MaxLinks: 8})
	must(t, err)
	whole, err := uploads.JS(150 << 10).Pack(d)
	must(t, err)
	part, err := uploads.Guppy(100<<10, 0).Pack(d)
	must(t, err)
	put := func(b uploads.Blob) {
		must(t, n.stores.Blobs.Put(ctx, b.Digest, int64(len(b.Data)), bytes.NewReader(b.Data)))
	}
	for _, b := range append(append([]uploads.Blob{}, whole.Shards...), whole.Indexes...) {
		put(b)
	}
	for _, b := range append(append([]uploads.Blob{}, part.Shards[1:]...), part.Indexes...) {
		put(b)
	}
	// Rot one block's byte inside the JS upload's first shard.
	shard := whole.Shards[0]
	var rotten mh.Multihash
	for digest, sl := range whole.Slices {
		if bytes.Equal(sl.Shard, shard.Digest) {
			rotten = mh.Multihash(digest)
			bad := bytes.Clone(shard.Data)
			bad[sl.Offset] ^= 1
			must(t, n.blobObjects.Put(ctx, blobstore.S3{}.Key(shard.Digest), int64(len(bad)), bytes.NewReader(bad)))
			break
		}
	}
	cat, err := catalog.Open(t.TempDir(), "test")
	must(t, err)
	defer cat.Close()
	_, err = cat.Refresh(ctx, n.stores.Blobs, catalog.Options{Log: quietLog()})
	must(t, err)

	sum, found := run(t, n.stores, check.Config{Verify: true, Catalog: cat})
	var uploadsFound, elsewhere, bad []string
	for _, f := range found {
		switch f.Name() {
		case check.Upload:
			uploadsFound = append(uploadsFound, f.Blob)
		case check.ShardElsewhere:
			elsewhere = append(elsewhere, f.Blob)
		case check.BadSlice:
			bad = append(bad, f.Blob)
			if !bytes.Contains([]byte(f.Detail), []byte(blobstore.Name(rotten))) {
				t.Errorf("bad-slice names another block: %s", f.Detail)
			}
		}
	}
	if want := []string{blobstore.Name(whole.Indexes[0].Digest)}; !slices.Equal(uploadsFound, want) {
		t.Errorf("uploads %v, want the JS upload's index %v", uploadsFound, want)
	}
	if want := []string{blobstore.Name(part.Shards[0].Digest)}; !slices.Equal(elsewhere, want) {
		t.Errorf("shards elsewhere %v, want the guppy upload's first %v", elsewhere, want)
	}
	if want := []string{blobstore.Name(shard.Digest)}; !slices.Equal(bad, want) || sum.Problems[check.BadSlice] != 1 || sum.Problems[check.HashMismatch] != 1 {
		t.Errorf("bad slices in %v, problems %v; want one, in the rotten shard", bad, sum.Problems)
	}
	if sum.Problems[check.ShardElsewhere] != 0 || sum.Info[check.ShardElsewhere] != 1 {
		t.Errorf("a shard elsewhere counted as %v / %v", sum.Problems, sum.Info)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
