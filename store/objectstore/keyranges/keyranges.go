// Package keyranges lists a key space with several listings at once,
// each over its own range of keys, and yields every key once, in key
// order: for an S3 bucket that has no fixed prefixes to list apart (a
// record bucket, one key per digest; a flat blob bucket), where a
// listing page by page is a round trip per 1,000 keys.
//
// Ranges are found as the listing goes. A full page shows how densely
// keys lie where it was listed (cuts.go reads keys as numbers in the
// alphabet the page uses); the range is cut about two pages past where
// its listing is, and an idle worker takes the part above, which may be
// cut in turn on the same guess, up to one guess a worker. A guess past
// the last key costs an empty request; a range that holds more than the
// guess is cut again once it lists a page of its own. No shape of key
// is assumed: where the numbers say nothing, a range is cut halfway.
package keyranges

import (
	"context"
	"iter"
	"sync"

	"github.com/storacha/storefs/store/objectstore"
)

// Lister lists the keys after after, in key order, page by page (as
// ListObjectsV2 with StartAfter does); a caller may leave it at any key
// and asks for no further page then.
type Lister func(ctx context.Context, after string) iter.Seq2[objectstore.Info, error]

// Options bound a listing: at most Ahead keys (and a page a listing)
// are held ahead of the reader, and Workers listings run at once.
type Options struct {
	Workers  int // listings at once
	PageKeys int // keys in one page of the Lister (S3: 1,000)
	Buffer   int // keys one range holds at most, and the size of a cut
	Ahead    int // keys all ranges hold ahead of the reader
}

// Defaults: 16 listings at once, the figure the sharded blob listing
// uses, each range two pages; at most ~66,000 keys held (Ahead, a page
// a worker, and the range being read), ~10 MB of keys of ~100 bytes.
var Defaults = Options{Workers: 16, PageKeys: 1000, Buffer: 2000, Ahead: 48000}

// List yields the keys after after, as list would, running up to
// o.Workers listings at once once a full page shows the key space is
// big. The first error ends the listing, after the keys before it.
func List(ctx context.Context, after string, list Lister, o Options) iter.Seq2[objectstore.Info, error] {
	if o.PageKeys <= 0 {
		o.PageKeys = Defaults.PageKeys
	}
	o.Buffer = max(o.Buffer, o.PageKeys)
	return func(yield func(objectstore.Info, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		l := &listing{list: list, o: o, ranges: []*keyRange{{cur: after, open: true}}}
		l.wake = sync.NewCond(&l.mu)
		var wg sync.WaitGroup
		// Workers start as work is taken with none left idle: most
		// listings (a record directory's) are one page, and need one.
		l.spawn = func() {
			l.started++
			wg.Go(func() { l.work(ctx) })
		}
		l.mu.Lock()
		l.spawn()
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			l.stopped = true
			l.wake.Broadcast()
			l.mu.Unlock()
			cancel()
			wg.Wait()
			if listed != nil {
				listed(l)
			}
		}()
		l.read(ctx, yield)
	}
}

// listed sees each listing once it is over (tests).
var listed func(*listing)

// keyRange is the keys in (lo, hi] (lo is the range before's hi), or
// above lo when open; buf holds the keys listed and not yet read, up to
// cur.
type keyRange struct {
	cur  string // the last key listed, or lo: the next page starts after it
	hi   string
	open bool // no upper bound: the last range
	buf  []objectstore.Info
	done bool // nothing more to list
	busy bool // a worker lists it
	// first and last are the ends of a full page listed here (or in the
	// range this one was cut from): how far apart keys lie around cur.
	first, last string
	scale       *scale // of that page
	dense       bool   // first and last are known
	// guesses counts the cuts since a page of its own: each is a guess
	// that keys go on past the last one, and an empty range costs a
	// request, so as many are made as there are workers to list them.
	guesses int
	any     bool // a key was listed here
}

type listing struct {
	list    Lister
	o       Options
	mu      sync.Mutex
	wake    *sync.Cond
	ranges  []*keyRange // in key order; ranges[0] is the one being read
	err     error
	stopped bool
	// buffered counts the keys listed and not read; peak is its most
	buffered, peak int
	spawn          func() // starts a worker; l.mu is held
	started, idle  int    // workers
}

// read yields the first range's keys as they come, and moves to the
// next range once the first is done and read.
func (l *listing) read(ctx context.Context, yield func(objectstore.Info, error) bool) {
	for {
		l.mu.Lock()
		for l.err == nil && len(l.ranges) > 0 && len(l.ranges[0].buf) == 0 && !l.ranges[0].done {
			l.wake.Wait()
		}
		switch {
		case l.err != nil:
			err := l.err
			l.mu.Unlock()
			yield(objectstore.Info{}, err)
			return
		case len(l.ranges) == 0:
			l.mu.Unlock()
			if err := ctx.Err(); err != nil {
				yield(objectstore.Info{}, err)
			}
			return
		}
		r := l.ranges[0]
		batch := r.buf
		r.buf = nil
		l.buffered -= len(batch)
		if len(batch) == 0 { // done and read
			l.ranges = l.ranges[1:]
		}
		l.wake.Broadcast() // room to list, or a range fewer
		l.mu.Unlock()
		for _, info := range batch {
			if !yield(info, nil) {
				return
			}
		}
	}
}

// work lists ranges until the listing ends.
func (l *listing) work(ctx context.Context) {
	for {
		l.mu.Lock()
		r := l.next()
		l.mu.Unlock()
		if r == nil {
			return
		}
		l.listRange(ctx, r)
	}
}

// next waits for a range to list and takes it: the first one that is
// neither listed nor being listed and has room for a page, or else a
// new range cut from the first dense range that reaches Buffer keys
// past its listing. While Ahead keys are held, only the range the
// reader waits for is. nil: the listing is over.
// l.mu is held.
func (l *listing) next() *keyRange {
	for {
		if l.stopped || l.err != nil || len(l.ranges) == 0 {
			return nil
		}
		// Up to the first range not done, ranges are listed and cut
		// whatever is held: the reader waits for them.
		room, first := l.buffered < l.o.Ahead, true
		for _, r := range l.ranges {
			if !r.done && !r.busy && len(r.buf)+l.o.PageKeys <= l.o.Buffer && (first || room) {
				r.busy = true
				l.took()
				return r
			}
			first = first && r.done
		}
		first = true
		for i, r := range l.ranges {
			if !first && !room {
				break
			}
			first = first && r.done
			if r.done || !r.dense || r.guesses >= l.o.Workers {
				continue
			}
			m, ok := l.cutPoint(r)
			if !ok {
				continue
			}
			upper := &keyRange{cur: m, hi: r.hi, open: r.open, busy: true, first: r.first, last: r.last, scale: r.scale, dense: r.dense, guesses: r.guesses + 1}
			r.hi, r.open = m, false
			l.ranges = append(l.ranges[:i+1], append([]*keyRange{upper}, l.ranges[i+1:]...)...)
			l.took()
			return upper
		}
		l.idle++
		l.wake.Wait()
		l.idle--
	}
}

// took starts a worker when the one that took work leaves none idle.
// l.mu is held.
func (l *listing) took() {
	if l.idle == 0 && l.started < max(l.o.Workers, 1) {
		l.spawn()
	}
}

// cutPoint is where r is cut: 90 % of Buffer keys past its listing (a
// range of just over Buffer keys costs a request more), as far as
// the page it knows says; ok is false when r ends before that. Where
// the page says nothing of cur (its keys have another prefix), r is cut
// halfway, and again only after a page of its own.
func (l *listing) cutPoint(r *keyRange) (string, bool) {
	m, ok := r.scale.ahead(r.cur, r.first, r.last, 0.9*float64(l.o.Buffer)/float64(l.o.PageKeys))
	if !ok {
		m, ok = between(r.cur, r.hi, r.open)
		r.dense = false
		return m, ok
	}
	return m, r.open || m < r.hi // ahead's m lies past cur
}

// listRange lists r, a page at a time, until it is done, it has no
// room, or it was cut below where its listing is.
func (l *listing) listRange(ctx context.Context, r *keyRange) {
	l.mu.Lock()
	after := r.cur
	l.mu.Unlock()
	page := make([]objectstore.Info, 0, l.o.PageKeys)
	for info, err := range l.list(ctx, after) {
		if err != nil {
			l.mu.Lock()
			if l.err == nil && !l.stopped {
				l.err = err
			}
			l.wake.Broadcast()
			l.mu.Unlock()
			return
		}
		page = append(page, info)
		if len(page) == l.o.PageKeys {
			if !l.commit(r, page, false) {
				return
			}
			page = page[:0]
		}
	}
	l.commit(r, page, true)
}

// guessedPast stops guesses past r, a guess that held no key: the keys
// may have ended there.
func (l *listing) guessedPast(r *keyRange) {
	past := false
	for _, o := range l.ranges {
		if past && o.guesses > 0 {
			o.dense = false
		}
		past = past || o == r
	}
}

// commit adds a page of r's listing to r, and says whether its listing
// goes on: the last page (or a key past r's end) makes r done; no room
// for another page gives r back, to be listed on once there is.
func (l *listing) commit(r *keyRange, page []objectstore.Info, last bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.wake.Broadcast()
	held := len(r.buf)
	for _, info := range page {
		if !r.open && info.Key > r.hi {
			last = true
			break
		}
		r.buf = append(r.buf, info)
		r.cur = info.Key
	}
	if l.buffered += len(r.buf) - held; l.buffered > l.peak {
		l.peak = l.buffered
	}
	if r.any = r.any || len(r.buf) > held; last && !r.any && r.guesses > 0 {
		l.guessedPast(r)
	}
	if !last && len(page) > 1 {
		keys := make([]string, len(page))
		for i, info := range page {
			keys[i] = info.Key
		}
		if sc, ok := newScale(keys); ok {
			r.first, r.last, r.scale, r.dense, r.guesses = keys[0], keys[len(keys)-1], sc, true, 0
		}
	}
	waited := true // the reader waits for r
	for _, o := range l.ranges {
		if o == r {
			break
		}
		waited = waited && o.done
	}
	room := len(r.buf)+l.o.PageKeys <= l.o.Buffer && (waited || l.buffered < l.o.Ahead)
	if last || l.stopped || l.err != nil || !room {
		r.done = r.done || last
		r.busy = false
		return false
	}
	return true
}
