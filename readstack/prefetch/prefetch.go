// Package prefetch turns the reads of an open blob into backend requests.
// A sequential reader's first read is fetched on its own; read-ahead then
// starts small (1 MiB) and grows
// (chunks double up to 4 MiB, the window up to 96 MiB), fetched as several
// ranged requests in parallel. A random reader gets what it asked for,
// aligned to pages, and no read-ahead. Fetched chunks live in a Pool shared
// by every open file of the mount: readers of the same blob share chunks
// (identical concurrent requests are made once), and one memory budget
// bounds them all — when it is spent, read-ahead stops growing and reads
// go straight to the backend, so nothing waits for memory.
package prefetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/storacha/storefs/store/blobstore"
)

// Config shapes read-ahead. A zero field takes its default (Defaults);
// NewPool rejects the rest of what could not work.
type Config struct {
	Initial   int64 // first chunk and window (1 MiB)
	MaxChunk  int64 // largest single request (4 MiB)
	MaxWindow int64 // most bytes scheduled ahead of a reader (96 MiB)
	Align     int64 // random reads are widened to this alignment (4 KiB)
	Budget    int64 // memory for all chunks of the pool (128 MiB)
}

// Defaults are the sizes above.
var Defaults = Config{Initial: 1 << 20, MaxChunk: 4 << 20, MaxWindow: 96 << 20, Align: 4 << 10, Budget: 128 << 20}

// Pool holds the chunks of every reader of a mount.
type Pool struct {
	cfg    Config
	ctx    context.Context
	mu     sync.Mutex
	chunks map[chunkKey]*chunk
	used   atomic.Int64
	onUse  func(int64)
}

type chunkKey struct {
	blob   string
	off, n int64
}

// ErrConfig is matched by every error of Config.Check.
var ErrConfig = errors.New("bad prefetch config")

// Check fills zero fields with their defaults and rejects a config a
// reader could not make progress under: a chunk of no bytes never ends a
// read, and a budget that cannot hold one largest chunk never reads ahead.
func (c Config) Check() (Config, error) {
	fill := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&c.Initial, Defaults.Initial)
	fill(&c.MaxChunk, Defaults.MaxChunk)
	fill(&c.MaxWindow, Defaults.MaxWindow)
	fill(&c.Align, Defaults.Align)
	fill(&c.Budget, Defaults.Budget)
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"initial chunk", c.Initial}, {"largest chunk", c.MaxChunk}, {"window", c.MaxWindow}, {"alignment", c.Align}, {"budget", c.Budget}} {
		if f.v < 0 {
			return bad("%s %d is negative", f.name, f.v)
		}
	}
	switch {
	case c.Align&(c.Align-1) != 0:
		return bad("alignment %d is not a power of two", c.Align)
	case c.Initial < c.Align:
		return bad("initial chunk %d is smaller than the alignment %d", c.Initial, c.Align)
	case c.MaxChunk < c.Initial:
		return bad("largest chunk %d is smaller than the initial chunk %d", c.MaxChunk, c.Initial)
	case c.MaxWindow < c.MaxChunk:
		return bad("window %d is smaller than the largest chunk %d", c.MaxWindow, c.MaxChunk)
	case c.Budget < c.MaxChunk:
		return bad("budget %d is smaller than one largest chunk (%d)", c.Budget, c.MaxChunk)
	}
	return c, nil
}

// NewPool makes a pool; fetches run until ctx ends. onUse (may be nil) is
// told the bytes in use whenever they change. Zero fields of cfg take
// their defaults; a config Check rejects is an error.
func NewPool(ctx context.Context, cfg Config, onUse func(int64)) (*Pool, error) {
	cfg, err := cfg.Check()
	if err != nil {
		return nil, err
	}
	if onUse == nil {
		onUse = func(int64) {}
	}
	return &Pool{cfg: cfg, ctx: ctx, chunks: map[chunkKey]*chunk{}, onUse: onUse}, nil
}

// Config is the pool's config, defaults filled in.
func (p *Pool) Config() Config { return p.cfg }

// chunk is one ranged request, filled as the bytes arrive.
type chunk struct {
	key    chunkKey
	buf    []byte
	cancel context.CancelFunc

	mu      sync.Mutex
	filled  int64
	err     error
	updated chan struct{} // closed and replaced on every change
	refs    int           // guarded by Pool.mu
}

// acquire returns the chunk for key, shared if it exists, new if the
// budget allows, or nil.
func (p *Pool) acquire(key chunkKey, fetch blobstore.Ranges) *chunk {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.chunks[key]; ok {
		c.refs++
		return c
	}
	if p.used.Load()+key.n > p.cfg.Budget {
		return nil
	}
	p.onUse(p.used.Add(key.n))
	ctx, cancel := context.WithCancel(p.ctx)
	c := &chunk{key: key, buf: getBuf(key.n), cancel: cancel, updated: make(chan struct{}), refs: 1}
	p.chunks[key] = c
	go p.fill(ctx, c, fetch)
	return c
}

func (p *Pool) fill(ctx context.Context, c *chunk, fetch blobstore.Ranges) {
	defer c.cancel() // after the body is closed (deferred below): its connection is reused
	body, err := fetch.ReadRange(ctx, c.key.off, c.key.n)
	if err == nil {
		defer body.Close()
		// Readers wait for their bytes only: publish what each Read brings.
		for c.filled < c.key.n && err == nil {
			var n int
			n, err = body.Read(c.buf[c.filled:c.key.n])
			if n > 0 {
				c.update(int64(n), nil)
			}
			if err == io.EOF && c.filled == c.key.n {
				err = nil
			}
		}
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("blob ended at %d, before the %d bytes asked for: %w", c.key.off+c.filled, c.key.n, io.ErrUnexpectedEOF)
		}
		p.mu.Lock()
		if p.chunks[c.key] == c {
			delete(p.chunks, c.key) // later readers fetch again
		}
		p.mu.Unlock()
		c.update(0, err)
	}
}

func (c *chunk) update(n int64, err error) {
	c.mu.Lock()
	c.filled += n
	if err != nil {
		c.err = err
	}
	close(c.updated)
	c.updated = make(chan struct{})
	c.mu.Unlock()
}

// wait blocks until the chunk holds its first `need` bytes.
func (c *chunk) wait(ctx context.Context, need int64) error {
	for {
		c.mu.Lock()
		filled, err, ch := c.filled, c.err, c.updated
		c.mu.Unlock()
		if filled >= need {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hold takes one more reference on a chunk the caller already holds.
func (p *Pool) hold(c *chunk) {
	p.mu.Lock()
	c.refs++
	p.mu.Unlock()
}

func (p *Pool) release(c *chunk) {
	p.mu.Lock()
	c.refs--
	last := c.refs == 0
	if last && p.chunks[c.key] == c {
		delete(p.chunks, c.key)
	}
	p.mu.Unlock()
	if last {
		// A chunk still filling is abandoned. A filled one is left to
		// close its body: cancelling now would cut the connection while
		// the close drains it, and the next request would dial anew.
		c.mu.Lock()
		filling := c.filled < c.key.n && c.err == nil
		c.mu.Unlock()
		if filling {
			c.cancel()
		}
		go func() {
			// The fetch may still be writing: recycle the buffer only
			// once it has stopped.
			c.wait(context.Background(), c.key.n)
			putBuf(c.buf)
		}()
		p.onUse(p.used.Add(-c.key.n))
	}
}

// Chunk buffers of the common sizes (1, 2, 4, 8 MiB) are recycled: a
// sequential read would otherwise allocate its size again in garbage.
var bufPools sync.Map // int64 size -> *sync.Pool

func recycled(n int64) bool { return n >= 1<<20 && n&(n-1) == 0 }

func getBuf(n int64) []byte {
	if recycled(n) {
		if p, ok := bufPools.Load(n); ok {
			if b, ok := p.(*sync.Pool).Get().(*[]byte); ok {
				return *b
			}
		}
	}
	return make([]byte, n)
}

func putBuf(b []byte) {
	n := int64(len(b))
	if !recycled(n) {
		return
	}
	p, _ := bufPools.LoadOrStore(n, &sync.Pool{})
	p.(*sync.Pool).Put(&b)
}

// Reader is one run of reads of a blob.
type Reader struct {
	pool  *Pool
	blob  string
	size  int64
	fetch blobstore.Ranges

	head   []byte  // the blob's first bytes, when the caller had them
	next   int64   // where the last read ended
	window int64   // bytes to keep scheduled ahead
	csize  int64   // size of the last chunk scheduled
	ahead  []*held // scheduled chunks, in order, contiguous
	end    int64   // end of the scheduled range

	// the run as Continues sees it, published at the end of each read
	pubNext, pubLo, pubHi atomic.Int64
}

type held struct {
	c      *chunk
	served int64 // bytes of it returned to the reader
}

// NewReader reads blob (of size bytes) through the pool.
func (p *Pool) NewReader(blob string, size int64, fetch blobstore.Ranges) *Reader {
	return &Reader{pool: p, blob: blob, size: size, fetch: fetch, window: p.cfg.Initial}
}

// Seed gives the reader the blob's first bytes, already fetched: reads
// within them need no request, and start no read-ahead (a reader that
// reads past them starts it then): open, read a little and close costs
// nothing more.
func (r *Reader) Seed(head []byte) { r.head = head }

// ReadAt fills p with bytes at off (short only at the end of the blob).
// Calls must not overlap.
func (r *Reader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	data, release, err := r.View(ctx, p, off)
	if err != nil {
		return 0, err
	}
	defer release()
	if len(data) > 0 && len(p) > 0 && &data[0] != &p[0] {
		copy(p, data)
	}
	return len(data), nil
}

// View is ReadAt without a copy where it can: when one chunk holds the
// bytes it returns them in place, valid until release is called (the
// chunk stays alive until then); otherwise it fills dest and returns it.
// release must be called once, also after an error (it may be nil then).
func (r *Reader) View(ctx context.Context, dest []byte, off int64) (data []byte, release func(), err error) {
	defer r.publish()
	if off >= r.size {
		return nil, noRelease, io.EOF
	}
	dest = dest[:min(int64(len(dest)), r.size-off)]
	readEnd := off + int64(len(dest))
	if readEnd <= int64(len(r.head)) {
		r.next = readEnd
		return r.head[off:readEnd], noRelease, nil
	}
	// View publishes its state as it returns, so between reads Continues
	// is up to date.
	if !r.Continues(off) {
		r.drop()
		r.window, r.csize = r.pool.cfg.Initial, 0
		r.next = readEnd
		n, err := r.random(ctx, dest, off)
		return dest[:n], noRelease, err
	}
	if len(r.ahead) == 0 || off > r.end {
		r.drop()
		r.end = off
	}
	starting := r.csize == 0
	if starting {
		// The first read of a run is fetched alone and read-ahead starts
		// once it is served: the server answers it without competing.
		r.scheduleFirst(readEnd)
	} else {
		r.schedule(readEnd)
	}
	data, release, err = r.view(ctx, dest, off)
	if err != nil {
		r.drop()
		return nil, noRelease, err
	}
	r.next = off + int64(len(data))
	if starting {
		r.schedule(readEnd)
	}
	return data, release, nil
}

func noRelease() {}

func (r *Reader) publish() {
	lo, hi := int64(-1), int64(-1)
	if len(r.ahead) > 0 {
		lo, hi = r.ahead[0].c.key.off, r.end
	}
	r.pubNext.Store(r.next)
	r.pubLo.Store(lo)
	r.pubHi.Store(hi)
}

// Ahead reports whether the reader has read-ahead scheduled: it serves a
// sequential run. Like Continues it may be called while the reader
// serves a read.
func (r *Reader) Ahead() bool { return r.pubHi.Load() > r.pubLo.Load() }

// Continues reports whether a read at off would continue this reader's
// run: it starts where the last read ended, or falls in what is scheduled
// (the kernel issues read-ahead requests out of order). Unlike the other
// methods it may be called while the reader serves a read; the answer is
// then a moment old.
func (r *Reader) Continues(off int64) bool {
	return off == r.pubNext.Load() || (off >= r.pubLo.Load() && off < r.pubHi.Load())
}

// view serves a sequential read in place when one chunk holds it.
func (r *Reader) view(ctx context.Context, dest []byte, off int64) ([]byte, func(), error) {
	h := r.holding(off)
	if h == nil || off+int64(len(dest)) > h.c.key.off+h.c.key.n {
		n, err := r.copy(ctx, dest, off)
		return dest[:n], noRelease, err
	}
	c := h.c
	from := off - c.key.off
	to := from + int64(len(dest))
	if err := c.wait(ctx, to); err != nil {
		return nil, noRelease, err
	}
	r.pool.hold(c)
	h.served += to - from
	r.trim(off + to - from)
	return c.buf[from:to], func() { r.pool.release(c) }, nil
}

// scheduleFirst schedules the first read of a run as a request of its
// own, page-aligned.
func (r *Reader) scheduleFirst(readEnd int64) {
	a := r.pool.cfg.Align
	cs := min(r.size-r.end, r.pool.cfg.Initial, max(a, (readEnd-r.end+a-1)/a*a))
	if c := r.pool.acquire(chunkKey{r.blob, r.end, cs}, r.fetch); c != nil {
		r.ahead = append(r.ahead, &held{c: c})
		r.end += cs
		r.csize = cs
	}
}

// schedule keeps the window scheduled past the read, growing it.
func (r *Reader) schedule(readEnd int64) {
	want := min(r.size, readEnd+r.window)
	for r.end < want {
		cs := min(r.pool.cfg.MaxChunk, 2*r.csize)
		if r.csize < r.pool.cfg.Initial {
			cs = r.pool.cfg.Initial
		}
		cs = min(cs, r.size-r.end)
		c := r.pool.acquire(chunkKey{r.blob, r.end, cs}, r.fetch)
		if c == nil {
			break // budget spent: no more read-ahead for now
		}
		r.ahead = append(r.ahead, &held{c: c})
		r.end += cs
		r.csize = cs
	}
	if r.window < r.pool.cfg.MaxWindow {
		r.window = min(r.pool.cfg.MaxWindow, 2*r.window)
	}
}

// copy serves [off, off+len(p)) from scheduled chunks, and what they do
// not cover (budget spent) straight from the backend.
func (r *Reader) copy(ctx context.Context, p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		h := r.holding(pos)
		if h == nil {
			m, err := r.direct(ctx, p[n:], pos)
			return n + m, err
		}
		c := h.c
		from := pos - c.key.off
		to := min(c.key.n, from+int64(len(p)-n))
		if err := c.wait(ctx, to); err != nil {
			return n, err
		}
		copied := copy(p[n:], c.buf[from:to])
		n += copied
		h.served += int64(copied)
	}
	r.trim(off + int64(n))
	return n, nil
}

func (r *Reader) holding(pos int64) *held {
	for _, h := range r.ahead {
		if pos >= h.c.key.off && pos < h.c.key.off+h.c.key.n {
			return h
		}
	}
	return nil
}

// trim releases chunks fully served, or left far behind the reader.
func (r *Reader) trim(pos int64) {
	keep := r.ahead[:0]
	for _, h := range r.ahead {
		if h.served >= h.c.key.n || h.c.key.off+h.c.key.n+r.pool.cfg.MaxWindow < pos {
			r.pool.release(h.c)
			continue
		}
		keep = append(keep, h)
	}
	r.ahead = keep
}

// random serves a read that does not continue the last one.
func (r *Reader) random(ctx context.Context, p []byte, off int64) (int, error) {
	return r.pool.Random(ctx, r.blob, r.size, r.fetch, p, off)
}

// Random serves one read of a blob (of size bytes) that belongs to no
// run: the bytes asked for, page-aligned, shared with identical
// concurrent requests. It keeps no state, so random reads of one blob
// run side by side, each its own request.
func (p *Pool) Random(ctx context.Context, blob string, size int64, fetch blobstore.Ranges, dest []byte, off int64) (int, error) {
	if off >= size {
		return 0, nil
	}
	dest = dest[:min(int64(len(dest)), size-off)]
	a := p.cfg.Align
	start := off / a * a
	end := min(size, (off+int64(len(dest))+a-1)/a*a)
	c := p.acquire(chunkKey{blob, start, end - start}, fetch)
	if c == nil {
		return direct(ctx, fetch, dest, off)
	}
	defer p.release(c)
	need := off - start + int64(len(dest))
	if err := c.wait(ctx, need); err != nil {
		return 0, err
	}
	return copy(dest, c.buf[off-start:need]), nil
}

// direct reads without buffering, when the budget is spent.
func (r *Reader) direct(ctx context.Context, p []byte, off int64) (int, error) {
	return direct(ctx, r.fetch, p, off)
}

func direct(ctx context.Context, fetch blobstore.Ranges, p []byte, off int64) (int, error) {
	body, err := fetch.ReadRange(ctx, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.ReadFull(body, p)
	if err != nil {
		return n, err
	}
	return n, nil
}

func (r *Reader) drop() {
	for _, h := range r.ahead {
		r.pool.release(h.c)
	}
	r.ahead, r.end = nil, 0
}

// Close releases the reader's chunks.
func (r *Reader) Close() { r.drop() }
