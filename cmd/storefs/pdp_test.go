package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commcid "github.com/filecoin-project/go-fil-commcid"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
)

// pdp commp gives a file's and a blob's piece CID v2: for 127 bytes of
// 0xCC, the go-fil-commp-hashhash published vector (a v1 CID) as v2.
func TestPDPCommP(t *testing.T) {
	v1, _ := cid.Decode("baga6ea4seaqmfldjtozgne6adk7eve2vdxte7vzlivae7nzsbrawobo546zkijq")
	want, err := commcid.PieceCidV2FromV1(v1, 127)
	must(t, err)
	data := bytes.Repeat([]byte{0xcc}, 127)
	file := filepath.Join(t.TempDir(), "cc")
	must(t, os.WriteFile(file, data, 0o644))
	dir := t.TempDir()
	st, err := node.Open(context.Background(), node.Config{DataDir: dir, Writable: true, BlobsOnly: true})
	must(t, err)
	d, _ := mh.Sum(data, mh.SHA2_256, -1)
	small := []byte("too small")
	ds, _ := mh.Sum(small, mh.SHA2_256, -1)
	must(t, st.Blobs.Put(context.Background(), d, 127, bytes.NewReader(data)))
	must(t, st.Blobs.Put(context.Background(), ds, int64(len(small)), bytes.NewReader(small)))
	st.Close()

	out, stderr, code := storefs(t, "pdp", "commp", "--data-dir", dir, file, blobstore.Name(d))
	wantOut := want.String() + "\t128\t" + file + "\n" + want.String() + "\t128\t" + blobstore.Name(d) + "\n"
	if code != 0 || out != wantOut {
		t.Fatalf("commp: exit %d %q, want %q: %s", code, out, wantOut, stderr)
	}
	if _, stderr, code := storefs(t, "pdp", "commp", "--data-dir", dir, blobstore.Name(ds)); code != 1 || !strings.Contains(stderr, "under 127 bytes") {
		t.Fatalf("commp of a small blob: exit %d: %s", code, stderr)
	}
	if _, _, code := storefs(t, "pdp", "commp", "--data-dir", dir, "no-such-thing"); code != 2 {
		t.Fatalf("commp of nonsense: exit %d, want 2", code)
	}
}
