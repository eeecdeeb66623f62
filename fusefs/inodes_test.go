package fusefs_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/internal/testsupport/synthnode"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/objectstore"
)

// endless answers for any blob: 8 bytes, kept nowhere. Inode memory is
// measured, not the store's.
type endless struct{ blobstore.Store }

func (endless) Get(ctx context.Context, d mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error) {
	return smallObject{bytes.NewReader(make([]byte, 8))}, nil
}

type smallObject struct{ *bytes.Reader }

func (smallObject) Close() error       { return nil }
func (smallObject) Size() int64        { return 8 }
func (smallObject) ModTime() time.Time { return time.Time{} }
func (endless) Files() blobstore.Files { return nil }
func (o smallObject) Read(p []byte) (int, error) {
	n, err := o.Reader.Read(p)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func heapInuse() uint64 { return synthnode.HeapInuse() }

// BenchmarkBlobInodes stats 100k blobs (a LOOKUP each), then has the
// kernel forget them, and reports the heap a blob inode costs and what
// stays after the forgets (go-fuse's tables are Go maps, which never
// shrink).
func BenchmarkBlobInodes(b *testing.B) {
	fusetest.Require(b)
	const n = 100_000
	root, err := fusefs.New(fusefs.Stores{Blobs: endless{}}, withDefaults(fusefs.Config{Log: quietLog()}))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	server, err := fusefs.Mount(dir, root)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { server.Unmount(); root.Close() }()
	const warm = 1000 // the mount's buffers and caches reach their size
	names := make([]string, warm+n)
	for i := range names {
		var seed [8]byte
		binary.BigEndian.PutUint64(seed[:], uint64(i))
		d, _ := mh.Sum(seed[:], mh.SHA2_256, -1)
		names[i] = filepath.Join(dir, "blobs", blobstore.Name(d))
	}
	var st syscall.Stat_t
	for _, p := range names[:warm] {
		if err := syscall.Stat(p, &st); err != nil {
			b.Fatal(err)
		}
	}
	names = names[warm:]
	start := heapInuse()
	b.ResetTimer()
	began := time.Now()
	for _, p := range names {
		if err := syscall.Stat(p, &st); err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(began)
	b.StopTimer()
	peak := heapInuse()
	live := root.LiveBlobs() - warm
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); root.LiveBlobs() > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	after := heapInuse()
	runtime.KeepAlive(names) // alive at every measure: not counted as freed
	b.ReportMetric(float64(int64(peak)-int64(start))/float64(live), "B/inode")
	b.ReportMetric(float64(int64(after)-int64(start))/(1<<20), "MiB-kept-after-forget")
	b.ReportMetric(float64(took.Microseconds())/n, "µs/lookup")
	b.Logf("%d inodes: heap %d → %d MiB; after the kernel forgot them (%d left): %d MiB", live, start>>20, peak>>20, root.LiveBlobs(), after>>20)
}
