package check_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/storacha/storefs/engine/check"
	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/internal/testsupport/synthnode"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/records"
)

// BenchmarkCheck checks a synthetic node of STOREFS_BENCH_BLOBS blobs
// (default 1,000,000), each accepted, and reports the peak Go heap and
// the process's peak RSS (VmHWM). Run it alone, so the peak is this
// check's: go test -run '^$' -bench Check -benchtime 1x ./engine/check
func BenchmarkCheck(b *testing.B) {
	n, err := synthnode.Count(1_000_000)
	if err != nil {
		b.Fatal(err)
	}
	space := sample.Space()
	st := check.Stores{
		Blobs: synthnode.Blobs{N: n},
		Stores: records.Stores{
			Acceptances: acceptancestore.New(synthnode.Acceptances{N: n, Space: func(int) string { return space }}, recordkind.S3),
		},
	}
	stop := synthnode.PeakHeap(20 * time.Millisecond)
	b.ResetTimer()
	for range b.N {
		var problems int
		sum, err := check.Run(context.Background(), st, check.Config{Jobs: 4}, func(f check.Finding) {
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
	peakHeap := stop()
	b.ReportMetric(float64(n), "blobs")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
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
