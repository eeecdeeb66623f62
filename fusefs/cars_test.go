package fusefs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/internal/testsupport/uploads"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/catalog"
	"github.com/storacha/storefs/store/node"
)

// carNode stores a generated upload, packed as the JS client packs it,
// and a blob that is no CAR.
type carNode struct {
	dag   *uploads.DAG
	up    *uploads.Upload
	other mh.Multihash
}

func storeUpload(t *testing.T, st *node.Stores) carNode {
	t.Helper()
	big := make([]byte, 700<<10)
	rand.NewChaCha8([32]byte{9}).Read(big)
	d, err := uploads.Import([]uploads.Entry{{Path: "big.bin", Data: big}, {Path: "small.txt", Data: []byte("small")}},
		uploads.Options{Chunk: 32 << 10, MaxLinks: 6})
	if err != nil {
		t.Fatal(err)
	}
	u, err := uploads.JS(200 << 10).Pack(d)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, b := range append(append([]uploads.Blob{}, u.Shards...), u.Indexes...) {
		if err := st.Blobs.Put(ctx, b.Digest, int64(len(b.Data)), bytes.NewReader(b.Data)); err != nil {
			t.Fatal(err)
		}
	}
	other := []byte("not a car at all")
	od, _ := mh.Sum(other, mh.SHA2_256, -1)
	if err := st.Blobs.Put(ctx, od, int64(len(other)), bytes.NewReader(other)); err != nil {
		t.Fatal(err)
	}
	return carNode{dag: d, up: u, other: od}
}

// mountCars catalogues st and mounts it with /cars.
func mountCars(t *testing.T, st *node.Stores) string {
	t.Helper()
	fusetest.Require(t)
	cat, err := catalog.Open(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if _, err := cat.Refresh(context.Background(), st.Blobs, catalog.Options{Log: quietLog()}); err != nil {
		t.Fatal(err)
	}
	return mountRoot(t, newRoot(t, fusefs.Stores{Blobs: st.Blobs}, fusefs.Config{Catalog: cat, Log: testLog(t)}))
}

// /cars shows every CAR blob (never the others): each shard's roots and
// every block, checked against its CID; an index decoded, with links to
// its shards.
func TestCars(t *testing.T) {
	for _, backend := range []string{"datadir", "s3"} {
		t.Run(backend, func(t *testing.T) {
			st := backends(t)[backend](t)
			n := storeUpload(t, st)
			dir := mountCars(t, st)
			cars := filepath.Join(dir, "cars")

			var want []string
			for _, b := range append(append([]uploads.Blob{}, n.up.Shards...), n.up.Indexes...) {
				want = append(want, blobstore.Name(b.Digest))
			}
			slices.Sort(want)
			ents, err := os.ReadDir(cars)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range ents {
				got = append(got, e.Name())
			}
			if !slices.Equal(got, want) {
				t.Fatalf("/cars lists %v, want %v", got, want)
			}
			if _, err := os.Stat(filepath.Join(cars, blobstore.Name(n.other))); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a blob that is no CAR in /cars: %v", err)
			}

			last := n.up.Shards[len(n.up.Shards)-1]
			roots, err := os.ReadFile(filepath.Join(cars, blobstore.Name(last.Digest), "roots"))
			if err != nil || string(roots) != n.dag.Root.String()+"\n" {
				t.Errorf("the last shard's roots: %q, %v", roots, err)
			}
			first := n.up.Shards[0]
			if roots, _ := os.ReadFile(filepath.Join(cars, blobstore.Name(first.Digest), "roots")); len(roots) != 0 {
				t.Errorf("the first shard names roots: %q", roots)
			}

			for _, b := range n.dag.Blocks {
				sl := n.up.Slices[string(b.CID.Hash())]
				p := filepath.Join(cars, blobstore.Name(sl.Shard), "blocks", b.CID.String())
				data, err := os.ReadFile(p)
				if err != nil || !bytes.Equal(data, b.Data) {
					t.Fatalf("block %s: %d bytes, %v", b.CID, len(data), err)
				}
			}
			listed, err := os.ReadDir(filepath.Join(cars, blobstore.Name(first.Digest), "blocks"))
			if err != nil {
				t.Fatal(err)
			}
			inFirst := 0
			for _, sl := range n.up.Slices {
				if bytes.Equal(sl.Shard, first.Digest) {
					inFirst++
				}
			}
			if len(listed) != inFirst {
				t.Errorf("the first shard lists %d blocks, holds %d", len(listed), inFirst)
			}

			ix := filepath.Join(cars, blobstore.Name(n.up.Indexes[0].Digest))
			raw, err := os.ReadFile(filepath.Join(ix, "index.json"))
			if err != nil {
				t.Fatal(err)
			}
			var decoded struct {
				Content string `json:"content"`
				Shards  []struct {
					Shard  string `json:"shard"`
					Here   bool   `json:"here"`
					Slices []any  `json:"slices"`
				} `json:"shards"`
			}
			if err := json.Unmarshal(raw, &decoded); err != nil || decoded.Content != n.dag.Root.String() || len(decoded.Shards) != len(n.up.Shards) {
				t.Fatalf("index.json: %v\n%s", err, raw)
			}
			for _, s := range decoded.Shards {
				if !s.Here || len(s.Slices) == 0 {
					t.Errorf("index.json shard %+v", s)
				}
				target, err := os.Readlink(filepath.Join(ix, "shards", s.Shard))
				if err != nil || target != "../../../blobs/"+s.Shard {
					t.Errorf("shards/%s → %q, %v", s.Shard, target, err)
				}
				if fi, err := os.Stat(filepath.Join(ix, "shards", s.Shard)); err != nil || fi.Size() == 0 {
					t.Errorf("shards/%s does not lead to its blob: %v", s.Shard, err)
				}
			}
			if _, err := os.Stat(filepath.Join(cars, blobstore.Name(first.Digest), "index.json")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a shard has an index.json: %v", err)
			}
		})
	}
}

// A flipped byte in a block's data fails that block (EIO), and only it,
// in a data dir and on S3.
func TestCarsFlippedByte(t *testing.T) {
	for _, backend := range []string{"datadir", "s3"} {
		t.Run(backend, func(t *testing.T) { flippedByte(t, backend) })
	}
}

func flippedByte(t *testing.T, backend string) {
	st, flip := flippable(t, backend)
	n := storeUpload(t, st)
	shard := n.up.Shards[0]
	var bad, good string
	for _, b := range n.dag.Blocks {
		sl := n.up.Slices[string(b.CID.Hash())]
		if !bytes.Equal(sl.Shard, shard.Digest) {
			continue
		}
		if bad == "" {
			bad = b.CID.String()
			flip(shard, int64(sl.Offset+sl.Length/2))
		} else if good == "" {
			good = b.CID.String()
		}
	}
	dir := mountCars(t, st)
	blocks := filepath.Join(dir, "cars", blobstore.Name(shard.Digest), "blocks")
	if _, err := os.ReadFile(filepath.Join(blocks, bad)); !errors.Is(err, syscall.EIO) {
		t.Errorf("a block with a flipped byte: %v, want EIO", err)
	}
	if _, err := os.ReadFile(filepath.Join(blocks, good)); err != nil {
		t.Errorf("another block of the same shard: %v", err)
	}
}

// flippable is a store of the backend, and a way to change one byte of
// a shard in it behind its back (the data dir's file; the S3 object).
func flippable(t *testing.T, backend string) (*node.Stores, func(shard uploads.Blob, off int64)) {
	t.Helper()
	var st *node.Stores
	var flip func(shard uploads.Blob, off int64)
	switch backend {
	case "datadir":
		dataDir := t.TempDir()
		var err error
		if st, err = node.Open(context.Background(), node.Config{DataDir: dataDir, Writable: true}); err != nil {
			t.Fatal(err)
		}
		flip = func(shard uploads.Blob, off int64) { flipByte(t, dataDir, blobstore.Name(shard.Digest), off) }
	default:
		srv := s3test.Start(t)
		var err error
		st, err = node.Open(context.Background(), node.Config{Writable: true, Timeout: 5 * time.Second,
			S3: &node.S3{Endpoint: srv.Endpoint, BucketPrefix: "flip-", Insecure: true, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}})
		if err != nil {
			t.Fatal(err)
		}
		flip = func(shard uploads.Blob, off int64) {
			bad := bytes.Clone(shard.Data)
			bad[off] ^= 0x40
			if _, err := srv.Client().PutObject(context.Background(), "flip-pdp", blobstore.S3{}.Key(shard.Digest),
				bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() { st.Close() })
	return st, flip
}

// flipByte changes one byte of a blob where the data dir keeps it.
func flipByte(t *testing.T, dataDir, name string, off int64) {
	t.Helper()
	var path string
	filepath.WalkDir(node.BlobDir(dataDir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), name) {
			path = p
		}
		return nil
	})
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
