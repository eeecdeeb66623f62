package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/storacha/storefs/internal/testsupport/jsupload"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/carblob"
	"github.com/storacha/storefs/store/node"
)

// waitCatalogued polls the mount's metrics until its catalogue refresh
// is done, and returns the scrape.
func waitCatalogued(t *testing.T, addr string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		text := scrape(t, addr)
		if strings.Contains(text, `storefs_catalog_blobs{state="done"} 1`) {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catalogue refresh did not finish in 30 s:\n%s", grepLines(text, "storefs_catalog"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The binary mounts a data dir holding the real JS client's upload: it
// catalogues it in the background, /cars shows its CARs and blocks,
// storefs find locates them; a remount reads no blob for the catalogue.
func TestCarsThroughTheBinary(t *testing.T) {
	u := jsupload.Load(t)
	dir := t.TempDir()
	st, err := node.Open(context.Background(), node.Config{DataDir: dir, Writable: true, BlobsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range append(append([]jsupload.Blob{}, u.Shards...), u.Index) {
		if err := st.Blobs.Put(context.Background(), b.Digest, int64(len(b.Data)), bytes.NewReader(b.Data)); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	args := []string{"--data-dir", dir, "--catalog-dir", t.TempDir()}

	mnt := t.TempDir()
	addr := freeAddr(t)
	d := startMount(t, mnt, append(args, "--metrics-addr", addr)...)
	first := waitCatalogued(t, addr)
	if got := metric(t, first, `storefs_catalog_blobs{state="read"}`); got != 3 {
		t.Errorf("first mount read %v blobs for the catalogue, want 3", got)
	}
	var want []string
	for _, b := range append(append([]jsupload.Blob{}, u.Shards...), u.Index) {
		want = append(want, b.Name)
	}
	slices.Sort(want)
	if got := strings.Fields(run(t, "ls", filepath.Join(mnt, "cars"))); !slices.Equal(got, want) {
		t.Errorf("/cars: %v, want %v", got, want)
	}
	last := u.Shards[len(u.Shards)-1]
	if roots, _ := os.ReadFile(filepath.Join(mnt, "cars", last.Name, "roots")); strings.TrimSpace(string(roots)) != u.Root.String() {
		t.Errorf("the last shard's roots: %q", roots)
	}
	// Every block of every shard, as the mount serves it, is what a
	// scan of the fixture finds at that place.
	for _, s := range u.Shards {
		err := carblob.Scan(bytes.NewReader(s.Data), func(b carblob.Block) error {
			got, err := os.ReadFile(filepath.Join(mnt, "cars", s.Name, "blocks", b.CID.String()))
			if err != nil || !bytes.Equal(got, s.Data[b.Offset:b.Offset+b.Length]) {
				t.Errorf("block %s of %s: %v", b.CID, s.Name, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out := run(t, bin, append(append([]string{"find"}, args...), u.Root.String())...)
	if !strings.Contains(out, last.Name) || !strings.Contains(out, "by index "+u.Index.Name) {
		t.Errorf("find of the root:\n%s", out)
	}
	d.stop(syscall.SIGTERM, 10*time.Second)

	mnt = t.TempDir()
	addr = freeAddr(t)
	startMount(t, mnt, append(args, "--metrics-addr", addr)...)
	second := waitCatalogued(t, addr)
	if got := metric(t, second, `storefs_catalog_blobs{state="read"}`); got != 0 {
		t.Errorf("a remount read %v blobs for the catalogue, want 0", got)
	}
	if strings.Contains(second, `op="get",outcome="ok",store="blobs"`) {
		t.Errorf("a remount read blobs:\n%s", grepLines(second, "storefs_backend_requests_total"))
	}
	if _, err := os.Stat(filepath.Join(mnt, "cars", blobstore.Name(u.Index.Digest), "index.json")); err != nil {
		t.Errorf("index.json after a remount: %v", err)
	}
}
