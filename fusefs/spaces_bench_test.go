package fusefs_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"iter"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/pirinode"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/records"
)

// synthetic is the digest of the i-th blob of a synthetic node.
func synthetic(i int) mh.Multihash {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	d, _ := mh.Sum(seed[:], mh.SHA2_256, -1)
	return d
}

// listedBlobs lists n blobs it does not hold, with sizes and times, as
// an S3 listing does: the index's memory is measured, not the store's.
type listedBlobs struct {
	blobstore.Store // nil: only listings are asked of it
	n               int
}

func (s listedBlobs) List(ctx context.Context) iter.Seq2[blobstore.Info, error] {
	return func(yield func(blobstore.Info, error) bool) {
		for i := range s.n {
			if !yield(blobstore.Info{Digest: synthetic(i), Size: int64(1<<20 + i%4096), ModTime: time.Unix(1764000000, 0)}, nil) {
				return
			}
		}
	}
}

func (listedBlobs) Files() blobstore.Files { return nil }

// listedAcceptances is an objectstore of n acceptances, blob i accepted
// by space i%spaces, each made from its key when read.
type listedAcceptances struct {
	objectstore.Store // nil: only List and Get are asked of it
	n, spaces         int
	reads             *atomic.Int64
}

// spaceDIDs are the synthetic spaces, made once: a DID costs a key
// derivation.
var spaceDIDs = func() (dids [256]string) {
	for i := range dids {
		dids[i], _ = pirinode.SpaceDID(byte(i))
	}
	return dids
}()

func spaceOf(i, spaces int) string { return spaceDIDs[i%spaces] }

func (s listedAcceptances) List(ctx context.Context, prefix string) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		for i := range s.n {
			key := "z" + blobstore.Base58(synthetic(i)) + "/" + spaceOf(i, s.spaces) + ".cbor"
			if !yield(objectstore.Info{Key: key, Size: 200}, nil) {
				return
			}
		}
	}
}

func (s listedAcceptances) Get(ctx context.Context, key string, opts ...objectstore.GetOption) (objectstore.Object, error) {
	s.reads.Add(1)
	b58, rest, _ := strings.Cut(key, "/")
	d, err := mh.FromB58String(strings.TrimPrefix(b58, "z"))
	if err != nil {
		return nil, err
	}
	data, err := acceptancestore.Codec{}.Encode(acceptancestore.Acceptance{Space: strings.TrimSuffix(rest, ".cbor"), Digest: d,
		Size: 1 << 20, ExecutedAt: 1764000000, Cause: ipldutil.CBORCID(d)})
	if err != nil {
		return nil, err
	}
	return objectstore.ReadCloserObject{ReadCloser: io.NopCloser(bytes.NewReader(data)), Total: int64(len(data))}, nil
}

// BenchmarkSpacesIndex builds the /spaces index of a synthetic node of
// STOREFS_BENCH_BLOBS blobs (default 1,000,000), each accepted by one of
// 100 spaces, and reports the heap it keeps per accepted blob, the peak
// heap while it is built, and the acceptances it read. Run it alone:
// go test -run '^$' -bench SpacesIndex -benchtime 1x ./fusefs
func BenchmarkSpacesIndex(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("STOREFS_BENCH_BLOBS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	// The daemon's own cap on the Go heap (cmd/storefs: the prefetch
	// budget + 48 MiB): the peak is then what a mount would reach.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(128<<20 + 48<<20))
	var reads atomic.Int64
	stores := fusefs.Stores{Blobs: listedBlobs{n: n}, Stores: records.Stores{
		Acceptances: acceptancestore.NewS3(listedAcceptances{n: n, spaces: 100, reads: &reads})}}
	var kept, peak uint64
	var took time.Duration
	for range b.N {
		root, err := fusefs.New(stores, fusefs.Config{Log: quietLog()})
		if err != nil {
			b.Fatal(err)
		}
		start := heapInuse()
		stop, peakOf := samplePeakHeap()
		began := time.Now()
		pairs, err := root.BuildSpaces(context.Background())
		took = time.Since(began)
		stop()
		if err != nil {
			b.Fatal(err)
		}
		if pairs != n {
			b.Fatalf("%d pairs in the index, want %d", pairs, n)
		}
		kept, peak = heapInuse()-start, peakOf()-start
		runtime.KeepAlive(root)
		root.Close()
	}
	b.ReportMetric(float64(kept)/float64(n), "B/accepted-blob")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(reads.Load())/float64(b.N), "acceptances-read")
	b.ReportMetric(took.Seconds(), "s/build")
}

// samplePeakHeap samples the heap in use until stopped.
func samplePeakHeap() (stop func(), peak func() uint64) {
	var max atomic.Uint64
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max.Load() {
				max.Store(ms.HeapInuse)
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(quit); <-done }, max.Load
}
