package prefetch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storacha/storefs/readstack/prefetch"
	"github.com/storacha/storefs/store/blobstore"
)

// A property of the reader: under any valid config, any sequence of reads
// by any number of readers, and a backend that fails a request or cuts a
// body short, every read either returns exactly the blob's bytes or an
// error that a fault explains, a retry succeeds once the faults are spent,
// nothing is fetched outside the blob, all memory is returned, and no case
// hangs.

// faultyBackend serves one blob; request number failAt fails and request
// number cutAt returns a body cut short after cutLen bytes (1-based; 0:
// never).
type faultyBackend struct {
	t              testing.TB
	data           []byte
	failAt, cutAt  int64
	cutLen         int64
	requests       atomic.Int64
	faults         atomic.Int64
	outsideTheBlob atomic.Value // string: the first bad request
}

func (b *faultyBackend) fetch(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	req := b.requests.Add(1)
	if off < 0 || n <= 0 || off+n > int64(len(b.data)) {
		b.outsideTheBlob.CompareAndSwap(nil, fmt.Sprintf("request %d: [%d, +%d) of a %d-byte blob", req, off, n, len(b.data)))
		return nil, errors.New("request outside the blob")
	}
	switch req {
	case b.failAt:
		b.faults.Add(1)
		return nil, errors.New("injected: request failed")
	case b.cutAt:
		b.faults.Add(1)
		return io.NopCloser(bytes.NewReader(b.data[off : off+min(n-1, b.cutLen)])), nil
	}
	return io.NopCloser(bytes.NewReader(b.data[off : off+n])), nil
}

// propertyCase is one generated case.
type propertyCase struct {
	cfg     prefetch.Config
	size    int
	readers [][][2]int64 // per reader: (off, len) reads
	failAt  int64
	cutAt   int64
	cutLen  int64
}

func (c propertyCase) String() string {
	return fmt.Sprintf("cfg %+v, blob %d bytes, %d readers, fail request %d, cut request %d at %d", c.cfg, c.size, len(c.readers), c.failAt, c.cutAt, c.cutLen)
}

// genCase makes a valid config and a read pattern mixing sequential runs,
// re-reads, jumps and reads past the end.
func genCase(seed uint64) propertyCase {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	align := int64(512) << r.IntN(4)
	initial := align << r.IntN(4)
	maxChunk := initial << r.IntN(4)
	cfg := prefetch.Config{Align: align, Initial: initial, MaxChunk: maxChunk,
		MaxWindow: maxChunk << r.IntN(4), Budget: maxChunk * int64(1+r.IntN(8))}
	c := propertyCase{cfg: cfg, size: r.IntN(int(8*maxChunk) + 1)}
	if r.IntN(8) == 0 {
		c.size = 0
	}
	for range 1 + r.IntN(3) {
		var reads [][2]int64
		off := int64(0)
		for range 1 + r.IntN(60) {
			switch r.IntN(6) {
			case 0: // jump anywhere, sometimes past the end
				off = r.Int64N(int64(c.size) + 2*align)
			case 1: // back a little: a re-read
				off = max(0, off-r.Int64N(2*align))
			}
			n := 1 + r.Int64N(2*maxChunk)
			reads = append(reads, [2]int64{off, n})
			off += n
		}
		c.readers = append(c.readers, reads)
	}
	if r.IntN(2) == 0 {
		c.failAt = 1 + r.Int64N(12)
	}
	if r.IntN(2) == 0 {
		c.cutAt = 1 + r.Int64N(12)
		c.cutLen = r.Int64N(maxChunk)
	}
	return c
}

// caseBound is how long one case may take before it counts as hung; a
// case takes milliseconds.
const caseBound = 20 * time.Second

func checkCase(t *testing.T, c propertyCase) {
	t.Helper()
	data := make([]byte, c.size)
	rand.NewChaCha8([32]byte{7}).Read(data)
	b := &faultyBackend{t: t, data: data, failAt: c.failAt, cutAt: c.cutAt, cutLen: c.cutLen}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, err := prefetch.NewPool(ctx, c.cfg, nil)
	if err != nil {
		t.Fatalf("%v: a valid config was refused: %v", c, err)
	}
	errs := make(chan error, len(c.readers))
	var wg sync.WaitGroup
	for _, reads := range c.readers {
		wg.Go(func() { errs <- runReader(ctx, pool, b, reads) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(caseBound):
		cancel()
		t.Fatalf("%v: readers still reading after %v: a read hangs", c, caseBound)
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
	}
	if bad := b.outsideTheBlob.Load(); bad != nil {
		t.Fatalf("%v: fetched outside the blob: %s", c, bad)
	}
	if n := pool.InUse(); n != 0 {
		t.Fatalf("%v: %d bytes still held after every reader closed", c, n)
	}
}

// runReader runs one reader's reads, retrying a failed read while the
// backend has faults left to explain it.
func runReader(ctx context.Context, pool *prefetch.Pool, b *faultyBackend, reads [][2]int64) error {
	size := int64(len(b.data))
	r := pool.NewReader("blob", size, blobstore.RangeFunc(b.fetch))
	defer r.Close()
	maxFaults := int64(0)
	if b.failAt > 0 {
		maxFaults++
	}
	if b.cutAt > 0 {
		maxFaults++
	}
	for _, rd := range reads {
		off, n := rd[0], rd[1]
		buf := make([]byte, n)
		for attempt := int64(0); ; attempt++ {
			got, err := r.ReadAt(ctx, buf, off)
			if off >= size {
				if got != 0 || !errors.Is(err, io.EOF) {
					return fmt.Errorf("read [%d, +%d) past the end: %d bytes, %v; want io.EOF", off, n, got, err)
				}
				break
			}
			if err != nil {
				if b.faults.Load() == 0 || attempt >= maxFaults {
					return fmt.Errorf("read [%d, +%d), attempt %d: %v, with %d faults injected", off, n, attempt+1, err, b.faults.Load())
				}
				continue
			}
			want := b.data[off:min(size, off+n)]
			if !bytes.Equal(buf[:got], want) {
				return fmt.Errorf("read [%d, +%d): %d bytes that differ from the blob's %d", off, n, got, len(want))
			}
			break
		}
	}
	return nil
}

func TestReaderProperty(t *testing.T) {
	cases := 400
	if testing.Short() {
		cases = 50
	}
	for seed := range uint64(cases) {
		checkCase(t, genCase(seed))
	}
}

func FuzzReader(f *testing.F) {
	for seed := range uint64(16) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkCase(t, genCase(seed)) })
}

// Configs a reader cannot make progress under are refused, not run.
func TestConfigCheck(t *testing.T) {
	d := prefetch.Defaults
	if got, err := (prefetch.Config{}).Check(); err != nil || got != d {
		t.Fatalf("the zero config: %+v, %v; want the defaults", got, err)
	}
	if got, err := (prefetch.Config{Budget: 64 << 20}).Check(); err != nil || got.Budget != 64<<20 || got.Initial != d.Initial {
		t.Fatalf("a budget alone: %+v, %v", got, err)
	}
	for _, bad := range []prefetch.Config{
		{Initial: -1},
		{Budget: -1},
		{Budget: 2 << 20},           // below one largest chunk
		{Align: 3000},               // not a power of two
		{Initial: 1 << 10},          // below the alignment
		{Initial: 16 << 20},         // above the largest chunk
		{MaxWindow: 2 << 20},        // below the largest chunk
		{MaxChunk: 512 << 10},       // below the initial chunk
		{Align: 2 << 20, Budget: 1}, // several at once
	} {
		if _, err := bad.Check(); !errors.Is(err, prefetch.ErrConfig) {
			t.Errorf("Check(%+v) = %v, want ErrConfig", bad, err)
		}
		if _, err := prefetch.NewPool(context.Background(), bad, nil); !errors.Is(err, prefetch.ErrConfig) {
			t.Errorf("NewPool(%+v) = %v, want ErrConfig", bad, err)
		}
	}
}
