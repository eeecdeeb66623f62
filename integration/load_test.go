package integration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
)

// peakRSS is a process's high-water resident set, in MiB.
func peakRSS(t *testing.T, pid int) int {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return kb >> 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// load runs 16 random readers × 1000 reads and 4 sequential readers at
// once against path, checking every byte.
func load(t *testing.T, path string, data []byte) (errs int64, took time.Duration) {
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Open(path)
			if err != nil {
				failed.Add(1)
				return
			}
			defer f.Close()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			buf := make([]byte, 4096)
			for range 1000 {
				off := rng.Int64N(int64(len(data)) - 4096)
				if _, err := f.ReadAt(buf, off); err != nil || !bytes.Equal(buf, data[off:off+4096]) {
					failed.Add(1)
				}
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, data) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	return failed.Load(), time.Since(start)
}

func TestLoad(t *testing.T) {
	const budgetMiB = 64
	srv := s3test.Start(t)
	s3n := s3Node(t, srv)
	name, data := bigBlob(t, srv, 9, 128<<20)

	dataDir := t.TempDir()
	st, err := node.Open(context.Background(), node.Config{DataDir: dataDir, Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := mh.Sum(data, mh.SHA2_256, -1)
	if err := st.Blobs.Put(context.Background(), d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if blobstore.Name(d) != name {
		t.Fatal("names differ")
	}

	for _, c := range []struct {
		name string
		args []string
	}{
		{"s3", s3n.args},
		{"flatfs-pread", []string{"--no-passthrough", "--data-dir", dataDir}},
		{"flatfs-passthrough", []string{"--data-dir", dataDir}},
	} {
		t.Run(c.name, func(t *testing.T) {
			mnt := t.TempDir()
			dm := startMount(t, mnt, append([]string{"--prefetch-budget", strconv.Itoa(budgetMiB)}, c.args...)...)
			errs, took := load(t, filepath.Join(mnt, "blobs", name), data)
			rss := peakRSS(t, dm.cmd.Process.Pid)
			t.Logf("%s: 16×1000 random 4 KiB + 4 sequential 128 MiB readers: %v, %d errors, daemon peak RSS %d MiB (budget %d MiB)",
				c.name, took.Round(time.Millisecond), errs, rss, budgetMiB)
			if errs != 0 {
				t.Errorf("%d failed reads", errs)
			}
			// budget + the Go runtime, the HTTP client and FUSE buffers
			if rss > budgetMiB+160 {
				t.Errorf("daemon peak RSS %d MiB with a %d MiB prefetch budget", rss, budgetMiB)
			}
		})
	}
}
