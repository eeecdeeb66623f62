package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/testsupport/jsupload"
	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/internal/testsupport/uploads"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/carblob"
	"github.com/storacha/storefs/store/node"
)

// uploadedA is a.bin of uploadDataDir's upload.
func uploadedA() []byte {
	big := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{3}).Read(big)
	return big
}

// uploadDataDir stores an upload packed as the JS client packs it in a
// fresh data dir.
func uploadDataDir(t *testing.T) (string, *uploads.DAG, *uploads.Upload) {
	t.Helper()
	d, err := uploads.Import([]uploads.Entry{{Path: "a.bin", Data: uploadedA()}, {Path: "b.txt", Data: []byte("bee")}}, uploads.Options{Chunk: 64 << 10, MaxLinks: 4})
	if err != nil {
		t.Fatal(err)
	}
	u, err := uploads.JS(300 << 10).Pack(d)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := node.Open(context.Background(), node.Config{DataDir: dir, Writable: true, BlobsOnly: true})
	must(t, err)
	defer st.Close()
	for _, b := range append(append([]uploads.Blob{}, u.Shards...), u.Indexes...) {
		must(t, st.Blobs.Put(context.Background(), b.Digest, int64(len(b.Data)), bytes.NewReader(b.Data)))
	}
	return dir, d, u
}

// storefs catalog reads every blob once and says what it found; a second
// run reads none; storefs find locates every block (by CID and by
// multihash) and exits 1 naming one it cannot.
func TestCatalogAndFind(t *testing.T) {
	dir, d, u := uploadDataDir(t)
	catDir := t.TempDir()
	backend := []string{"--data-dir", dir, "--catalog-dir", catDir}
	// find only reads: before any catalogue it says how to build one and
	// makes none.
	_, stderr, code := storefs(t, append(append([]string{"find"}, backend...), d.Root.String())...)
	if files, _ := os.ReadDir(catDir); code != 1 || !strings.Contains(stderr, "storefs catalog builds it") || len(files) != 0 {
		t.Fatalf("find before a catalogue: exit %d, %d files made: %s", code, len(files), stderr)
	}
	out, stderr, code := storefs(t, append([]string{"catalog", "--json"}, backend...)...)
	if code != 0 {
		t.Fatalf("catalog: exit %d: %s", code, stderr)
	}
	var sum map[string]any
	must(t, json.Unmarshal([]byte(out), &sum))
	blobs := float64(len(u.Shards) + len(u.Indexes))
	if sum["read"] != blobs || sum["indexes"] != float64(len(u.Indexes)) || sum["shards"] != float64(len(u.Shards)) || sum["disk_bytes"].(float64) <= 0 {
		t.Fatalf("first catalogue: %s", out)
	}
	out, _, code = storefs(t, append([]string{"catalog"}, backend...)...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d blobs listed, 0 read", int(blobs))) {
		t.Fatalf("second run, exit %d:\n%s", code, out)
	}

	var args []string
	want := map[string]uploads.Slice{}
	for _, b := range d.Blocks {
		args = append(args, b.CID.String())
		want[b.CID.String()] = u.Slices[string(b.CID.Hash())]
	}
	args = append(args, blobstore.Name(d.Blocks[0].CID.Hash())) // a multihash, as blobs are named
	out, stderr, code = storefs(t, append(append([]string{"find", "--json"}, backend...), args...)...)
	if code != 0 {
		t.Fatalf("find: exit %d: %s", code, stderr)
	}
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var f foundJSON
		must(t, json.Unmarshal([]byte(line), &f))
		w, ok := want[f.Query]
		if ok && f.Blob == blobstore.Name(w.Shard) && f.Offset == w.Offset && f.Length == w.Length && f.Here && f.Index != "" {
			got[f.Query] = true
		}
	}
	for q := range want {
		if !got[q] {
			t.Fatalf("find %s: not located where the upload put it\n%s", q, out)
		}
	}

	unknown, _ := mh.Sum([]byte("nowhere"), mh.SHA2_256, -1)
	uc := cid.NewCidV1(cid.Raw, unknown).String()
	_, stderr, code = storefs(t, append(append([]string{"find"}, backend...), args[0], uc)...)
	if code != 1 || !strings.Contains(stderr, uc) {
		t.Fatalf("find of an unknown CID: exit %d, %s", code, stderr)
	}
	if _, _, code := storefs(t, append(append([]string{"find"}, backend...), "not-a-cid")...); code != 2 {
		t.Fatalf("find of nonsense: exit %d, want 2", code)
	}
}

// On S3: the real JS client's upload, catalogued; find locates every
// block an index places, by the index, in its shard; cat reads its
// files.
func TestFindOnS3(t *testing.T) {
	srv := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	cfg := node.Config{Writable: true, BlobsOnly: true, S3: &node.S3{Endpoint: srv.Endpoint, BucketPrefix: "cat-", Insecure: true,
		AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}}
	st, err := node.Open(context.Background(), cfg)
	must(t, err)
	u := jsupload.Load(t)
	for _, b := range append(append([]jsupload.Blob{}, u.Shards...), u.Index) {
		must(t, st.Blobs.Put(context.Background(), b.Digest, int64(len(b.Data)), bytes.NewReader(b.Data)))
	}
	st.Close()
	backend := []string{"--s3-endpoint", srv.Endpoint, "--s3-insecure", "--s3-bucket-prefix", "cat-", "--catalog-dir", t.TempDir()}
	if _, stderr, code := storefs(t, append([]string{"catalog"}, backend...)...); code != 0 {
		t.Fatalf("catalog: exit %d: %s", code, stderr)
	}
	ix, err := carblob.DecodeIndex(u.Index.Data)
	must(t, err)
	for _, s := range ix.Shards {
		for _, sl := range s.Slices {
			if bytes.Equal(sl.Digest, s.Shard) {
				continue // the shard's own slice: the whole blob
			}
			name := blobstore.Name(sl.Digest)
			out, stderr, code := storefs(t, append(append([]string{"find", "--json"}, backend...), name)...)
			var f foundJSON
			if code != 0 || json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &f) != nil ||
				f.Blob != blobstore.Name(s.Shard) || f.Offset != sl.Offset || f.Length != sl.Length || f.Index != u.Index.Name {
				t.Fatalf("find %s: exit %d %s %s", name, code, out, stderr)
			}
		}
	}
	// cat reads the upload's files from the shards on S3.
	for p, want := range u.Files {
		out, stderr, code := storefs(t, append(append([]string{"cat"}, backend...), u.Root.String()+"/"+p)...)
		sum := sha256.Sum256([]byte(out))
		if code != 0 || hex.EncodeToString(sum[:]) != want {
			t.Fatalf("cat %s on S3: exit %d: %s", p, code, stderr)
		}
	}
}
