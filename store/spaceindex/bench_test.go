package spaceindex_test

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storacha/storefs/internal/testsupport/pirinode"
	"github.com/storacha/storefs/internal/testsupport/synthnode"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/spaceindex"
)

// spaceDIDs are the synthetic spaces, made once: a DID costs a key
// derivation.
var spaceDIDs = func() (dids [100]string) {
	for i := range dids {
		dids[i], _ = pirinode.SpaceDID(byte(i))
	}
	return dids
}()

// BenchmarkSpacesIndex builds the /spaces index of a synthetic node of
// STOREFS_BENCH_BLOBS blobs (default 1,000,000), each accepted by one of
// 100 spaces, and reports the heap it keeps per accepted blob, the peak
// heap while it is built, and the acceptances it read. Run it alone:
// go test -run '^$' -bench SpacesIndex -benchtime 1x ./store/spaceindex
func BenchmarkSpacesIndex(b *testing.B) {
	n, err := synthnode.Count(1_000_000)
	if err != nil {
		b.Fatal(err)
	}
	// The daemon's own cap on the Go heap (cmd/storefs: the prefetch
	// budget + 48 MiB): the peak is then what a mount would reach.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(128<<20 + 48<<20))
	var reads atomic.Int64
	space := func(i int) string { return spaceDIDs[i%len(spaceDIDs)] }
	blobs := synthnode.Blobs{N: n}
	accepts := acceptancestore.New(synthnode.Acceptances{N: n, Space: space, Reads: &reads}, recordkind.S3)
	var kept, peak uint64
	var took time.Duration
	for range b.N {
		start := synthnode.HeapInuse()
		stop := synthnode.PeakHeap(10 * time.Millisecond)
		began := time.Now()
		t, err := spaceindex.Build(context.Background(), accepts, blobs, slog.New(slog.DiscardHandler))
		took = time.Since(began)
		peakHeap := stop()
		if err != nil {
			b.Fatal(err)
		}
		if t.Pairs() != n {
			b.Fatalf("%d pairs in the index, want %d", t.Pairs(), n)
		}
		kept, peak = synthnode.HeapInuse()-start, peakHeap-start
		runtime.KeepAlive(t)
	}
	b.ReportMetric(float64(kept)/float64(n), "B/accepted-blob")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(reads.Load())/float64(b.N), "acceptances-read")
	b.ReportMetric(took.Seconds(), "s/build")
}
