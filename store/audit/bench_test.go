package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"iter"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/sample"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/audit"
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

// syntheticBlobs lists n blobs it does not hold: the audit's memory is
// measured, not the store's.
type syntheticBlobs struct {
	blobstore.Store // nil: only listings are asked of it
	n               int
}

func (s syntheticBlobs) ListKeys(ctx context.Context) iter.Seq2[blobstore.Info, error] {
	return func(yield func(blobstore.Info, error) bool) {
		for i := range s.n {
			d := synthetic(i)
			if !yield(blobstore.Info{Digest: d, Size: sizeOf(d), Key: blobstore.S3{}.Key(d), Layout: blobstore.LayoutV024}, nil) {
				return
			}
		}
	}
}

// syntheticAcceptances is an objectstore of n acceptances, one per
// synthetic blob, made from the key when read.
type syntheticAcceptances struct {
	objectstore.Store // nil: only List and Get are asked of it
	n                 int
	space             string
}

func (s syntheticAcceptances) List(ctx context.Context, prefix string) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		for i := range s.n {
			d := synthetic(i)
			if !yield(objectstore.Info{Key: "z" + blobstore.Base58(d) + "/" + s.space + ".cbor", Size: 200}, nil) {
				return
			}
		}
	}
}

func (s syntheticAcceptances) Get(ctx context.Context, key string, opts ...objectstore.GetOption) (objectstore.Object, error) {
	b58, _, _ := strings.Cut(key, "/")
	d, err := mh.FromB58String(strings.TrimPrefix(b58, "z"))
	if err != nil {
		return nil, err
	}
	size := sizeOf(d)
	data, err := acceptancestore.Codec{}.Encode(acceptancestore.Acceptance{Space: s.space, Digest: d, Size: size,
		ExecutedAt: 1764000000, Cause: ipldutil.CBORCID(d)})
	if err != nil {
		return nil, err
	}
	return objectstore.ReadCloserObject{ReadCloser: io.NopCloser(bytes.NewReader(data)), Total: int64(len(data))}, nil
}

// sizeOf is a synthetic blob's size, by a rule on its digest, so both
// synthetic stores agree on it while holding nothing per blob.
func sizeOf(d mh.Multihash) int64 {
	dec, _ := mh.Decode(d)
	return int64(1<<20 + int(binary.BigEndian.Uint16(dec.Digest))%4096)
}

// BenchmarkCheck checks a synthetic node of STOREFS_BENCH_BLOBS blobs
// (default 1,000,000), each accepted, and reports the peak Go heap and
// the process's peak RSS (VmHWM). Run it alone, so the peak is this
// check's: go test -run '^$' -bench Check -benchtime 1x ./store/audit
func BenchmarkCheck(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("STOREFS_BENCH_BLOBS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	st := audit.Stores{
		Blobs: syntheticBlobs{n: n},
		Stores: records.Stores{
			Acceptances: acceptancestore.NewS3(syntheticAcceptances{n: n, space: sample.Space()}),
		},
	}
	var peakHeap atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	b.ResetTimer()
	for range b.N {
		var problems int
		sum, err := audit.Run(context.Background(), st, audit.Config{Jobs: 4}, func(f audit.Finding) {
			if f.Problem != "" {
				problems++
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		if problems != 0 || sum.Blobs != int64(n) || sum.Records["acceptances"] != int64(n) {
			b.Fatalf("%d problems, summary %+v", problems, sum)
		}
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(n), "blobs")
	b.ReportMetric(float64(peakHeap.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(vmHWM())/(1<<10), "peak-RSS-MiB")
}

// vmHWM is the process's peak RSS in KiB.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	return 0
}
