package unixfs

import (
	"context"
	"io"
	"sync"
)

// Reader reads a File for one opener. A read that starts where the last
// one ended is sequential, and the segments after it are fetched ahead,
// several at once: as many bytes ahead as the reader has read in a row,
// times two, up to the Reader's limit. Each segment is fetched on its
// own, so read-ahead runs across shard boundaries; a random read fetches
// the one segment it needs and nothing ahead.
type Reader struct {
	f      *File
	limit  uint64
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	next    uint64   // where a sequential read would start
	run     uint64   // bytes read in a row up to next
	fetches []*fetch // in file order: the segment last read, then those ahead
}

// maxFetches bounds the segments in flight for one reader.
const maxFetches = 16

type fetch struct {
	seg  segment
	done chan struct{}
	data []byte
	err  error
}

// Reader makes a reader that fetches up to ahead bytes ahead of
// sequential reads (0: none). Close stops what it fetches.
func (f *File) Reader(ahead int) *Reader {
	ctx, cancel := context.WithCancel(context.Background())
	return &Reader{f: f, limit: uint64(max(ahead, 0)), ctx: ctx, cancel: cancel}
}

// Close stops the fetches under way.
func (r *Reader) Close() { r.cancel() }

// ReadAt reads len(p) bytes at off, or up to the file's end (then
// io.EOF). Bytes before an error are returned with it.
func (r *Reader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	size := r.f.Size()
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	pos := uint64(off)
	r.mu.Lock()
	if pos != r.next {
		r.run = 0
	}
	r.mu.Unlock()
	n := 0
	for n < len(p) && pos < size {
		fe, err := r.fetchFor(ctx, pos)
		if err != nil {
			return n, err
		}
		select {
		case <-fe.done:
		case <-ctx.Done():
			return n, ctx.Err()
		}
		if fe.err != nil {
			return n, fe.err
		}
		c := copy(p[n:], fe.data[pos-fe.seg.off:])
		n += c
		pos += uint64(c)
	}
	r.mu.Lock()
	r.next = pos
	r.run += uint64(n)
	r.mu.Unlock()
	if pos >= size && n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fetchFor is the fetch of the segment holding pos, started if it is not
// under way. Segments before it are let go; after a run of sequential
// reads, the read-ahead is topped up.
func (r *Reader) fetchFor(ctx context.Context, pos uint64) (*fetch, error) {
	r.mu.Lock()
	i := 0
	for ; i < len(r.fetches); i++ {
		if s := r.fetches[i].seg; s.off <= pos && pos < s.off+s.length {
			break
		}
	}
	if i < len(r.fetches) {
		r.fetches = r.fetches[i:]
	} else {
		r.fetches = nil // a jump: nothing fetched holds pos
		r.mu.Unlock()
		s, err := r.f.segmentAt(ctx, pos)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.fetches = []*fetch{r.start(s)}
	}
	found := r.fetches[0]
	want := min(2*r.run, r.limit)
	r.mu.Unlock()
	if want > 0 {
		r.topUp(ctx, pos, want)
	}
	return found, nil
}

// topUp fetches the segments after the last one under way until want
// bytes past pos are. Concurrent reads may top up at once: a segment is
// added only after the one it follows.
func (r *Reader) topUp(ctx context.Context, pos uint64, want uint64) {
	for {
		r.mu.Lock()
		if len(r.fetches) == 0 {
			r.mu.Unlock()
			return
		}
		last := r.fetches[len(r.fetches)-1]
		inFlight := len(r.fetches)
		r.mu.Unlock()
		end := last.seg.off + last.seg.length
		if end >= r.f.Size() || end-pos >= want || inFlight >= maxFetches {
			return
		}
		s, err := r.f.segmentAt(ctx, end)
		if err != nil {
			return // the read that needs it will say
		}
		r.mu.Lock()
		if len(r.fetches) > 0 && r.fetches[len(r.fetches)-1] == last {
			r.fetches = append(r.fetches, r.start(s))
		}
		r.mu.Unlock()
	}
}

// start begins fetching s. r.mu is held.
func (r *Reader) start(s segment) *fetch {
	fe := &fetch{seg: s, done: make(chan struct{})}
	go func() {
		defer close(fe.done)
		fe.data, fe.err = r.f.bytesOf(r.ctx, s)
	}()
	return fe
}
