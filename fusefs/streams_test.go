package fusefs_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/store/blobstore"
)

// TestParallelReadersFetchOnce: the kernel spreads one blob's read-ahead
// over every open handle; the daemon still sees one sequential run and
// fetches each byte once.
func TestParallelReadersFetchOnce(t *testing.T) {
	fusetest.Require(t)
	data := make([]byte, 48<<20)
	rand.NewChaCha8([32]byte{3}).Read(data)
	st, digests := memoryBlobs(t, data)
	d := digests[0]
	blobs := &counting{Store: st.Blobs}
	dir := mountRoot(t, newRoot(t, fusefs.Stores{Blobs: blobs}, fusefs.Config{Log: testLog(t)}))
	path := filepath.Join(dir, "blobs", blobstore.Name(d))
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	blobs.reset()

	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			got, err := io.ReadAll(f)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("read %d bytes, %v; equal %v", len(got), err, bytes.Equal(got, data))
			}
		}()
	}
	wg.Wait()
	gets, read, _ := blobs.reset()
	if read > int64(len(data))*5/4 {
		t.Errorf("6 readers of a %d MiB blob fetched %d MiB in %d requests", len(data)>>20, read>>20, len(gets))
	}
	t.Logf("6 readers of a %d MiB blob: %d MiB fetched in %d requests", len(data)>>20, read>>20, len(gets))
}
