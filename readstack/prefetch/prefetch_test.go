package prefetch_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storacha/storefs/readstack/prefetch"
	"github.com/storacha/storefs/store/blobstore"
)

// backend serves one blob and records every request.
type backend struct {
	data     []byte
	mu       sync.Mutex
	requests [][2]int64
	bytes    int64
	inflight atomic.Int64
	peak     atomic.Int64
	fail     atomic.Bool
	gate     chan struct{} // when set, requests wait on it
	latency  time.Duration
}

func newBackend(n int) *backend {
	data := make([]byte, n)
	rand.NewChaCha8([32]byte{1}).Read(data)
	return &backend{data: data}
}

func (b *backend) fetch(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	if b.fail.Load() {
		return nil, errors.New("backend down")
	}
	b.mu.Lock()
	b.requests = append(b.requests, [2]int64{off, n})
	b.bytes += n
	gate := b.gate
	b.mu.Unlock()
	if cur := b.inflight.Add(1); cur > b.peak.Load() {
		b.peak.Store(cur)
	}
	defer b.inflight.Add(-1)
	time.Sleep(b.latency)
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return io.NopCloser(bytes.NewReader(b.data[off : off+n])), nil
}

func (b *backend) stats() (int, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.requests), b.bytes
}

func newPool(t testing.TB, cfg prefetch.Config, onUse func(int64)) *prefetch.Pool {
	t.Helper()
	pool, err := prefetch.NewPool(context.Background(), cfg, onUse)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

func readAll(t *testing.T, r *prefetch.Reader, size int64, bs int) []byte {
	t.Helper()
	out := make([]byte, 0, size)
	buf := make([]byte, bs)
	for off := int64(0); off < size; {
		n, err := r.ReadAt(context.Background(), buf, off)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		out = append(out, buf[:n]...)
		off += int64(n)
	}
	return out
}

func TestSequentialGrowsAndRunsInParallel(t *testing.T) {
	b := newBackend(100 << 20)
	var peakUse atomic.Int64
	pool := newPool(t, prefetch.Defaults, func(n int64) {
		if n > peakUse.Load() {
			peakUse.Store(n)
		}
	})
	r := pool.NewReader("blob", int64(len(b.data)), blobstore.RangeFunc(b.fetch))
	got := readAll(t, r, int64(len(b.data)), 1<<20)
	r.Close()
	if !bytes.Equal(got, b.data) {
		t.Fatal("sequential read returned wrong bytes")
	}
	reqs, fetched := b.stats()
	if fetched != int64(len(b.data)) {
		t.Errorf("fetched %d bytes for a %d-byte blob", fetched, len(b.data))
	}
	// 1, 2, 4, 4, … MiB: about 100/4 + 3 requests, not one per read
	if reqs > 30 {
		t.Errorf("%d requests for 100 MiB read in 1 MiB pieces", reqs)
	}
	slices.SortFunc(b.requests, func(x, y [2]int64) int { return int(x[0] - y[0]) })
	if b.requests[0] != [2]int64{0, 1 << 20} || b.requests[1][1] != 2<<20 {
		t.Errorf("read-ahead does not start small: %v", b.requests[:3])
	}
	if pool.InUse() != 0 || peakUse.Load() > prefetch.Defaults.Budget {
		t.Errorf("in use after close %d, peak %d", pool.InUse(), peakUse.Load())
	}
	t.Logf("%d requests, peak %d in flight, peak memory %d MiB", reqs, b.peak.Load(), peakUse.Load()>>20)
}

// The first read of a run is a request of its own, page-aligned, so it
// competes with no read-ahead; read-ahead follows once it is served.
func TestFirstReadIsFetchedAlone(t *testing.T) {
	b := newBackend(8 << 20)
	pool := newPool(t, prefetch.Defaults, nil)
	r := pool.NewReader("blob", int64(len(b.data)), blobstore.RangeFunc(b.fetch))
	defer r.Close()
	buf := make([]byte, 10000)
	if n, err := r.ReadAt(context.Background(), buf, 0); err != nil || n != len(buf) || !bytes.Equal(buf, b.data[:n]) {
		t.Fatalf("first read: %d, %v", n, err)
	}
	// Read-ahead starts once the read is served, on its own goroutine.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if reqs, _ := b.stats(); reqs >= 2 {
			break
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	slices.SortFunc(b.requests, func(x, y [2]int64) int { return int(x[0] - y[0]) })
	if len(b.requests) < 2 || b.requests[0] != [2]int64{0, 12288} || b.requests[1] != [2]int64{12288, 1 << 20} {
		t.Errorf("requests %v, want [0 12288] then read-ahead of 1 MiB from 12288", b.requests)
	}
}

// Reads within a seeded head cost no request; the first read past it
// starts a run.
func TestSeededHead(t *testing.T) {
	b := newBackend(4 << 20)
	pool := newPool(t, prefetch.Defaults, nil)
	r := pool.NewReader("blob", int64(len(b.data)), blobstore.RangeFunc(b.fetch))
	defer r.Close()
	r.Seed(b.data[:16384])
	buf := make([]byte, 4096)
	for _, off := range []int64{0, 4096, 12288} {
		if n, err := r.ReadAt(context.Background(), buf, off); err != nil || n != 4096 || !bytes.Equal(buf, b.data[off:off+4096]) {
			t.Fatalf("read at %d in the head: %d, %v", off, n, err)
		}
	}
	if reqs, _ := b.stats(); reqs != 0 {
		t.Fatalf("reads within the head made %d requests", reqs)
	}
	if got := readAll(t, r, int64(len(b.data)), 1<<20); !bytes.Equal(got, b.data) {
		t.Fatal("reading on past the head returned wrong bytes")
	}
}

func TestRandomReadsFetchWhatTheyAsk(t *testing.T) {
	b := newBackend(64 << 20)
	pool := newPool(t, prefetch.Defaults, nil)
	r := pool.NewReader("blob", int64(len(b.data)), blobstore.RangeFunc(b.fetch))
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 4096)
	for range 200 {
		off := rng.Int64N(int64(len(b.data)) - 4096)
		n, err := r.ReadAt(context.Background(), buf, off)
		if err != nil || n != 4096 || !bytes.Equal(buf, b.data[off:off+4096]) {
			t.Fatalf("random read at %d: %d, %v", off, n, err)
		}
	}
	r.Close()
	reqs, fetched := b.stats()
	if reqs != 200 || fetched > 200*8192 {
		t.Errorf("200 random 4 KiB reads: %d requests, %d bytes fetched", reqs, fetched)
	}
}

func TestOutOfOrderWithinWindow(t *testing.T) {
	b := newBackend(8 << 20)
	pool := newPool(t, prefetch.Defaults, nil)
	r := pool.NewReader("blob", int64(len(b.data)), blobstore.RangeFunc(b.fetch))
	buf := make([]byte, 128<<10)
	for _, off := range []int64{0, 256 << 10, 128 << 10, 384 << 10, 512 << 10} {
		if _, err := r.ReadAt(context.Background(), buf, off); err != nil || !bytes.Equal(buf, b.data[off:off+int64(len(buf))]) {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
	// out-of-order reads are served by read-ahead: no byte is fetched twice
	b.mu.Lock()
	reqs := slices.Clone(b.requests)
	b.mu.Unlock()
	slices.SortFunc(reqs, func(x, y [2]int64) int { return int(x[0] - y[0]) })
	for i := 1; i < len(reqs); i++ {
		if reqs[i][0] < reqs[i-1][0]+reqs[i-1][1] {
			t.Errorf("out-of-order reads fetched bytes twice: %v", reqs)
		}
	}
	r.Close()
}

// Readers of one blob that keep pace with each other share every chunk:
// each byte is fetched once, however many read it.
func TestReadersShareChunks(t *testing.T) {
	const size, step = 64 << 20, 1 << 20
	b := newBackend(size)
	b.gate = make(chan struct{})
	cfg := prefetch.Defaults
	cfg.Budget = 1 << 30 // sharing, not the budget, is under test
	pool := newPool(t, cfg, nil)
	readers := make([]*prefetch.Reader, 8)
	for i := range readers {
		readers[i] = pool.NewReader("blob", size, blobstore.RangeFunc(b.fetch))
		defer readers[i].Close()
	}
	// Every reader reads each MiB before any reads the next. Chunks
	// beyond the first are scheduled ahead, so all readers hold them
	// before any has served them; the first is shared only if every
	// reader asks for it before its bytes arrive, hence the gate.
	for off := int64(0); off < size; off += step {
		var wg sync.WaitGroup
		for _, r := range readers {
			wg.Go(func() {
				buf := make([]byte, step)
				if n, err := r.ReadAt(context.Background(), buf, off); err != nil || !bytes.Equal(buf[:n], b.data[off:off+step]) {
					t.Errorf("read at %d: %d bytes, %v", off, n, err)
				}
			})
		}
		if off == 0 {
			for deadline := time.Now().Add(10 * time.Second); pool.Refs("blob") < len(readers); runtime.Gosched() {
				if time.Now().After(deadline) {
					close(b.gate)
					wg.Wait()
					t.Fatalf("8 readers asking for the first MiB hold %d references to its chunk, want 8 (one chunk, shared)", pool.Refs("blob"))
				}
			}
			close(b.gate)
		}
		wg.Wait()
	}
	if _, fetched := b.stats(); fetched != size {
		t.Errorf("8 readers in step fetched %d bytes of a %d-byte blob, want each byte once", fetched, size)
	}
}

func TestBudgetBoundsMemory(t *testing.T) {
	b := newBackend(40 << 20)
	cfg := prefetch.Defaults
	cfg.Budget, cfg.MaxChunk, cfg.MaxWindow = 4<<20, 2<<20, 8<<20
	var peak atomic.Int64
	pool := newPool(t, cfg, func(n int64) {
		if n > peak.Load() {
			peak.Store(n)
		}
	})
	var wg sync.WaitGroup
	for range 4 {
		r := pool.NewReader("blob", int64(len(b.data)), blobstore.RangeFunc(b.fetch))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer r.Close()
			if got := readAll(t, r, int64(len(b.data)), 1<<20); !bytes.Equal(got, b.data) {
				t.Error("wrong bytes under a tight budget")
			}
		}(0)
	}
	wg.Wait()
	if peak.Load() > cfg.Budget || pool.InUse() != 0 {
		t.Fatalf("peak %d over budget %d; in use after %d", peak.Load(), cfg.Budget, pool.InUse())
	}
}

func TestErrorsAndCancel(t *testing.T) {
	b := newBackend(4 << 20)
	pool := newPool(t, prefetch.Defaults, nil)
	r := pool.NewReader("blob", int64(len(b.data)), blobstore.RangeFunc(b.fetch))
	b.fail.Store(true)
	if _, err := r.ReadAt(context.Background(), make([]byte, 4096), 0); err == nil {
		t.Fatal("read with a failing backend succeeded")
	}
	b.fail.Store(false)
	buf := make([]byte, 4096)
	if _, err := r.ReadAt(context.Background(), buf, 0); err != nil || !bytes.Equal(buf, b.data[:4096]) {
		t.Fatalf("read after the backend recovered: %v", err)
	}
	r.Close()

	b.mu.Lock()
	b.gate = make(chan struct{}) // never opens
	b.mu.Unlock()
	r = pool.NewReader("blob2", int64(len(b.data)), blobstore.RangeFunc(b.fetch))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.ReadAt(ctx, buf, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}
	r.Close()
	if pool.InUse() != 0 {
		t.Fatalf("in use after close: %d", pool.InUse())
	}
}

// TestParallelRequests: once the window has grown, several ranged requests
// are in flight at once.
func TestParallelRequests(t *testing.T) {
	b := newBackend(64 << 20)
	b.latency = 5 * time.Millisecond // a network round trip
	pool := newPool(t, prefetch.Defaults, nil)
	r := pool.NewReader("blob", int64(len(b.data)), blobstore.RangeFunc(b.fetch))
	if got := readAll(t, r, int64(len(b.data)), 1<<20); !bytes.Equal(got, b.data) {
		t.Fatal("wrong bytes")
	}
	r.Close()
	if n := b.peak.Load(); n < 2 {
		t.Errorf("peak %d requests in flight during a sequential read", n)
	}
}

// View hands out a chunk's bytes in place; the chunk (and its share of the
// budget) stays until the view is released, even past the reader's Close.
func TestViewHoldsTheChunk(t *testing.T) {
	b := newBackend(4 << 20)
	pool := newPool(t, prefetch.Defaults, nil)
	r := pool.NewReader("blob", int64(len(b.data)), blobstore.RangeFunc(b.fetch))
	dest := make([]byte, 1<<20)
	data, release, err := r.View(context.Background(), dest, 0)
	if err != nil || !bytes.Equal(data, b.data[:1<<20]) {
		t.Fatalf("view: %v", err)
	}
	if &data[0] == &dest[0] {
		t.Fatal("a read one chunk holds was copied")
	}
	r.Close()
	if pool.InUse() < 1<<20 || !bytes.Equal(data, b.data[:1<<20]) {
		t.Fatalf("after Close, before release: %d bytes in use, bytes intact %v", pool.InUse(), bytes.Equal(data, b.data[:1<<20]))
	}
	release()
	if pool.InUse() != 0 {
		t.Fatalf("after release: %d bytes in use", pool.InUse())
	}
}

// closeWatch is a body that holds its Close until let go, and records
// whether its request was cancelled by then: a cancelled request cuts a
// keep-alive connection instead of draining it back to the pool.
type closeWatch struct {
	io.Reader
	ctx    context.Context
	letGo  chan struct{}
	closed chan error
}

func (w *closeWatch) Close() error {
	<-w.letGo
	w.closed <- w.ctx.Err()
	return nil
}

// TestServedChunkKeepsItsConnection: a chunk whose bytes all arrived is
// not cancelled when its last reader lets it go, for random reads and
// for read-ahead alike.
func TestServedChunkKeepsItsConnection(t *testing.T) {
	data := make([]byte, 8<<20)
	pool := newPool(t, prefetch.Defaults, nil)
	for _, mode := range []string{"random", "sequential"} {
		letGo, closed := make(chan struct{}), make(chan error, 64)
		fetch := blobstore.RangeFunc(func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
			return &closeWatch{Reader: bytes.NewReader(data[off : off+n]), ctx: ctx, letGo: letGo, closed: closed}, nil
		})
		buf := make([]byte, 4096)
		if mode == "random" {
			if _, err := pool.Random(context.Background(), mode, int64(len(data)), fetch, buf, 12345); err != nil {
				t.Fatal(err)
			}
		} else {
			r := pool.NewReader(mode, 1<<20, fetch) // one chunk, read whole
			for off := int64(0); off < 1<<20; off += 4096 {
				if _, err := r.ReadAt(context.Background(), buf, off); err != nil {
					t.Fatal(err)
				}
			}
			r.Close()
		}
		close(letGo) // the reader is done and the chunk released: now close
		if err := <-closed; err != nil {
			t.Errorf("%s: the served chunk's request was cancelled before its body closed: %v", mode, err)
		}
	}
}
