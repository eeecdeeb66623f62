package unixfs

import (
	"cmp"
	"context"
	"io"
	"slices"
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
	front   uint64   // the furthest end of a read in this run
	run     uint64   // bytes read in this run
	fetches []*fetch // in file order: the segment last read, then those ahead
}

// maxFetches bounds the segments one reader has ahead of its reads.
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
	bufs, err := r.Slices(ctx, off, len(p))
	n := 0
	for _, b := range bufs {
		n += copy(p[n:], b)
	}
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// Slices is the file's bytes at off, up to n of them and its end, as
// slices of the blocks' own bytes: nothing is copied, and nothing may
// write to them. Bytes before an error are returned with it.
func (r *Reader) Slices(ctx context.Context, off int64, n int) ([][]byte, error) {
	size := r.f.Size()
	if off < 0 {
		return nil, io.ErrUnexpectedEOF
	}
	pos := uint64(off)
	end := min(pos+uint64(n), size)
	r.mu.Lock()
	near := pos+slack >= r.front && pos <= r.front+slack
	if near {
		r.front = max(r.front, end)
	} else {
		r.run, r.front = 0, end
		r.fetches = slices.DeleteFunc(r.fetches, func(fe *fetch) bool { return !fe.holds(pos) })
	}
	r.mu.Unlock()
	var out [][]byte
	start := pos
	for pos < end {
		fe, err := r.fetchFor(ctx, pos)
		if err == nil {
			select {
			case <-fe.done:
				err = fe.err
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		if err != nil {
			r.count(pos - start)
			return out, err
		}
		b := fe.data[pos-fe.seg.off : min(end-fe.seg.off, fe.seg.length)]
		out = append(out, b)
		pos += uint64(len(b))
	}
	r.count(pos - start)
	return out, nil
}

func (r *Reader) count(n uint64) {
	r.mu.Lock()
	r.run += n
	r.mu.Unlock()
}

// slack is how far behind or past the front of a sequential reader a
// read may land and still be part of its run, and how far behind the
// front fetched segments are kept: the kernel sends a file's reads
// several at once (readahead), and they arrive in any order.
const slack = 4 << 20

func (fe *fetch) holds(pos uint64) bool {
	return fe.seg.off <= pos && pos < fe.seg.off+fe.seg.length
}

// fetchFor is the fetch of the segment holding pos, started if it is not
// under way. Segments that ended more than slack before the front are
// let go;
// after a run of sequential reads, the read-ahead is topped up.
func (r *Reader) fetchFor(ctx context.Context, pos uint64) (*fetch, error) {
	r.mu.Lock()
	r.fetches = slices.DeleteFunc(r.fetches, func(fe *fetch) bool { return fe.seg.off+fe.seg.length+slack <= r.front })
	found := r.holding(pos)
	if found == nil {
		r.mu.Unlock()
		s, err := r.f.segmentAt(ctx, pos)
		if err != nil {
			return nil, err
		}
		r.mu.Lock()
		if found = r.holding(pos); found == nil { // no other read started it meanwhile
			found = r.start(s, true)
			i, _ := slices.BinarySearchFunc(r.fetches, s.off, func(fe *fetch, off uint64) int { return cmp.Compare(fe.seg.off, off) })
			r.fetches = slices.Insert(r.fetches, i, found)
		}
	}
	want := min(2*r.run, r.limit)
	r.mu.Unlock()
	if want > 0 {
		r.topUp(ctx, pos, want)
	}
	return found, nil
}

// holding is the fetch of the segment holding pos, or nil. r.mu is held.
func (r *Reader) holding(pos uint64) *fetch {
	for _, fe := range r.fetches {
		if fe.holds(pos) {
			return fe
		}
	}
	return nil
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
		ahead := 0
		for _, fe := range r.fetches {
			if fe.seg.off+fe.seg.length > pos {
				ahead++
			}
		}
		r.mu.Unlock()
		end := last.seg.off + last.seg.length
		if end >= r.f.Size() || end-pos >= want || ahead >= maxFetches {
			return
		}
		s, err := r.f.segmentAt(ctx, end)
		if err != nil {
			return // the read that needs it will say
		}
		r.mu.Lock()
		if len(r.fetches) > 0 && r.fetches[len(r.fetches)-1] == last {
			r.fetches = append(r.fetches, r.start(s, false))
		}
		r.mu.Unlock()
	}
}

// start begins fetching s; waiting says a read waits for it now. r.mu
// is held.
func (r *Reader) start(s segment, waiting bool) *fetch {
	fe := &fetch{seg: s, done: make(chan struct{})}
	ctx := r.ctx
	if waiting {
		ctx = context.WithValue(ctx, waitingKey{}, true)
	}
	go func() {
		defer close(fe.done)
		fe.data, fe.err = r.f.bytesOf(ctx, s)
	}()
	return fe
}

type waitingKey struct{}

// Waiting says a read waits for the block ctx asks for, now: it is not
// fetched ahead. A source may spend more on it (parallel ranged reads of
// one block) to cut its latency.
func Waiting(ctx context.Context) bool { return ctx.Value(waitingKey{}) != nil }
