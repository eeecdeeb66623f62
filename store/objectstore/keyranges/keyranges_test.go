package keyranges

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/storacha/storefs/store/objectstore"
)

// bucket is a sorted key space listed page by page, as S3 lists with
// StartAfter, counting requests and how many run at once.
type bucket struct {
	keys     []string
	pageKeys int
	failAt   int64         // the request that fails, 0: none
	gate     func(n int64) // before each request's answer, with its number

	requests atomic.Int64
	mu       sync.Mutex
	active   int
	peak     int
}

func (b *bucket) list(ctx context.Context, after string) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		i := sort.SearchStrings(b.keys, after)
		if i < len(b.keys) && b.keys[i] == after {
			i++
		}
		for {
			n := b.requests.Add(1)
			b.mu.Lock()
			b.active++
			b.peak = max(b.peak, b.active)
			b.mu.Unlock()
			if b.gate != nil {
				b.gate(n)
			}
			b.mu.Lock()
			b.active--
			b.mu.Unlock()
			switch {
			case ctx.Err() != nil:
				yield(objectstore.Info{}, ctx.Err())
				return
			case n == b.failAt:
				yield(objectstore.Info{}, errInjected)
				return
			}
			j := min(i+b.pageKeys, len(b.keys))
			for _, k := range b.keys[i:j] {
				if !yield(objectstore.Info{Key: k, Size: int64(len(k))}, nil) {
					return
				}
			}
			if i = j; i == len(b.keys) {
				return
			}
		}
	}
}

func (b *bucket) idle() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.active == 0
}

var errInjected = errors.New("injected failure")

const b32 = "abcdefghijklmnopqrstuvwxyz234567"

// Key sets of the shapes a node's buckets hold, and of shapes they do
// not: cut points must not assume any.
var keySets = map[string]func(r *rand.Rand) string{
	"digests": func(r *rand.Rand) string { // "<b32 multihash>/<did>.cbor"
		return "ciq" + randomOf(r, b32, 30) + "/did:key:z6Mk" + randomOf(r, "abcXYZ123", 4) + ".cbor"
	},
	"shards": func(r *rand.Rand) string {
		return randomOf(r, "0123456789abcdef", 3) + "/" + randomOf(r, b32, 8) + ".data"
	},
	"ascii": func(r *rand.Rand) string { // prefixes of each other, ' ' and '~'
		return randomOf(r, " !09AZaz~~", 1+r.IntN(4))
	},
	"unicode": func(r *rand.Rand) string {
		return randomOf(r, "aé€😀~", 1+r.IntN(5))
	},
}

func randomOf(r *rand.Rand, alphabet string, n int) string {
	chars := []rune(alphabet)
	var sb strings.Builder
	for range n {
		sb.WriteRune(chars[r.IntN(len(chars))])
	}
	return sb.String()
}

func newBucket(gen func(*rand.Rand) string, n, pageKeys int, seed uint64) *bucket {
	r := rand.New(rand.NewPCG(seed, 7))
	seen := map[string]bool{}
	for tries := 0; len(seen) < n && tries < 20*n; tries++ { // a small alphabet may hold fewer
		seen[gen(r)] = true
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return &bucket{keys: keys, pageKeys: pageKeys}
}

var small = Options{Workers: 4, PageKeys: 10, Buffer: 20, Ahead: 80}

func collect(t *testing.T, seq iter.Seq2[objectstore.Info, error]) ([]string, error) {
	t.Helper()
	var got []string
	for info, err := range seq {
		if err != nil {
			return got, err
		}
		got = append(got, info.Key)
	}
	return got, nil
}

// TestListOrder: every key once, in order, whatever the keys' shape,
// size and options.
func TestListOrder(t *testing.T) {
	for name, gen := range keySets {
		for _, n := range []int{0, 1, 9, 10, 11, 999, 1000, 1001, 5000} {
			for _, o := range []Options{small, {Workers: 16, PageKeys: 100, Buffer: 200, Ahead: 4800}} {
				t.Run(fmt.Sprintf("%s/%d/%d", name, n, o.PageKeys), func(t *testing.T) {
					b := newBucket(gen, n, o.PageKeys, uint64(n))
					got, err := collect(t, List(context.Background(), "", b.list, o))
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got, b.keys) {
						t.Fatalf("%d keys listed, want %d; first difference at %d", len(got), len(b.keys), firstDiff(got, b.keys))
					}
					if !b.idle() {
						t.Fatal("a listing still runs after List returned")
					}
				})
			}
		}
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestListAfter: a listing that starts after a key yields the keys
// after it, as the Lister would.
func TestListAfter(t *testing.T) {
	b := newBucket(keySets["digests"], 3000, 10, 1)
	after := b.keys[1234]
	got, err := collect(t, List(context.Background(), after, b.list, small))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, b.keys[1235:]) {
		t.Fatalf("%d keys listed, want %d", len(got), len(b.keys)-1235)
	}
}

// TestListParallel: a big key space is listed by several listings at
// once, with few requests beyond one a page.
func TestListParallel(t *testing.T) {
	b := newBucket(keySets["digests"], 20000, 100, 2)
	// Each request is answered once 4 run at once, or after 20 ms: the
	// listing's requests overlap there if it issues them at once.
	var mu sync.Mutex
	four := sync.NewCond(&mu)
	waiting := 0
	b.gate = func(int64) {
		mu.Lock()
		defer mu.Unlock()
		if waiting++; waiting >= 4 {
			four.Broadcast()
		}
		timer := time.AfterFunc(20*time.Millisecond, four.Broadcast)
		defer timer.Stop()
		four.Wait()
		waiting--
	}
	o := Options{Workers: 8, PageKeys: 100, Buffer: 200, Ahead: 2400}
	got, err := collect(t, List(context.Background(), "", b.list, o))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, b.keys) {
		t.Fatalf("%d keys listed, want %d", len(got), len(b.keys))
	}
	if b.peak < 4 {
		t.Fatalf("at most %d listings ran at once", b.peak)
	}
	pages := int64(len(b.keys) / o.PageKeys)
	if r := b.requests.Load(); r > 2*pages {
		t.Errorf("%d requests for %d pages", r, pages)
	}
	t.Logf("%d requests for %d pages, %d at once at most", b.requests.Load(), pages, b.peak)
}

// TestListBounded: a reader that stops reading holds the listings: what
// they listed and it did not read stays within the options' bound.
func TestListBounded(t *testing.T) {
	b := newBucket(keySets["digests"], 20000, 10, 3)
	o := small
	bound := o.Ahead + o.Workers*o.Buffer
	worst := -1
	listed = func(l *listing) { worst = l.peak }
	defer func() { listed = nil }()
	var read int
	for _, err := range List(context.Background(), "", b.list, o) {
		if err != nil {
			t.Fatal(err)
		}
		read++
		if read%2500 == 0 {
			// let the listings run ahead as far as they will
			for range 20 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	if read != len(b.keys) {
		t.Fatalf("%d keys read, want %d", read, len(b.keys))
	}
	if worst > bound {
		t.Fatalf("%d keys listed ahead of the reader, bound %d", worst, bound)
	}
	t.Logf("at most %d keys ahead of the reader (bound %d)", worst, bound)
}

// TestListError: a failed request ends the listing with its error,
// after keys that are the start of the listing, each once.
func TestListError(t *testing.T) {
	for _, failAt := range []int64{1, 2, 5, 30} {
		b := newBucket(keySets["digests"], 5000, 10, 4)
		b.failAt = failAt
		got, err := collect(t, List(context.Background(), "", b.list, small))
		if !errors.Is(err, errInjected) {
			t.Fatalf("request %d failed: listing ended with %v", failAt, err)
		}
		if !slices.Equal(got, b.keys[:len(got)]) {
			t.Fatalf("request %d failed: the %d keys before the error are not the listing's start", failAt, len(got))
		}
		if !b.idle() {
			t.Fatal("a listing still runs after List returned")
		}
	}
}

// TestListStop: a reader that leaves early stops every listing.
func TestListStop(t *testing.T) {
	b := newBucket(keySets["digests"], 5000, 10, 5)
	n := 0
	for _, err := range List(context.Background(), "", b.list, small) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 1500 {
			break
		}
	}
	if !b.idle() {
		t.Fatal("a listing still runs after the reader left")
	}
}

// TestListWorkers: a listing of one page starts no more than one worker
// beside the one that lists it; a big one starts them all.
func TestListWorkers(t *testing.T) {
	var started int
	listed = func(l *listing) { started = l.started }
	defer func() { listed = nil }()
	for _, c := range []struct{ keys, most, least int }{{5, 2, 1}, {10000, small.Workers, small.Workers}} {
		b := newBucket(keySets["digests"], c.keys, small.PageKeys, 13)
		if _, err := collect(t, List(context.Background(), "", b.list, small)); err != nil {
			t.Fatal(err)
		}
		if started > c.most || started < c.least {
			t.Errorf("%d keys: %d workers started", c.keys, started)
		}
	}
}

// TestListCancel: a cancelled context ends the listing with its error.
func TestListCancel(t *testing.T) {
	b := newBucket(keySets["digests"], 5000, 10, 6)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var last error
	for _, err := range List(ctx, "", b.list, small) {
		if err != nil {
			last = err
			break
		}
		if n++; n == 100 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) {
		t.Fatalf("listing ended with %v, want context.Canceled", last)
	}
}

// TestBetween: a cut point lies strictly between its bounds, is valid
// UTF-8, and is found for keys that leave room.
func TestBetween(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for name, gen := range keySets {
		found := 0
		for range 20000 {
			a, hi := gen(r), gen(r)
			if r.IntN(4) == 0 {
				hi = a + gen(r)[:1] // a prefix of hi
			}
			if a >= hi {
				a, hi = hi, a
			}
			if a == hi {
				continue
			}
			open := r.IntN(3) == 0
			m, ok := between(a, hi, open)
			if !ok {
				continue
			}
			found++
			if m <= a || !open && m >= hi || !utf8.ValidString(m) {
				t.Fatalf("%s: between(%q, %q, %v) = %q", name, a, hi, open, m)
			}
		}
		if found < 5000 {
			t.Errorf("%s: a cut point for only %d of 20000 pairs", name, found)
		}
	}
	for _, c := range []struct {
		a, hi string
		open  bool
		ok    bool
	}{
		{"ciqaab", "cir", false, true},
		{"", "", true, true},
		{"a", "b", false, true},   // adjacent: "a" + a byte
		{"a", "a ", false, false}, // nothing of printable ASCII between
		{"é", "", true, false},    // ends inside a sequence: no ASCII cut
		{"~~~", "", true, true},
		{"b", "a", false, false},
	} {
		m, ok := between(c.a, c.hi, c.open)
		if ok != c.ok || ok && (m <= c.a || !c.open && m >= c.hi) {
			t.Errorf("between(%q, %q, %v) = %q, %v", c.a, c.hi, c.open, m, ok)
		}
	}
}

// TestScaleAhead: a cut k pages past a page's end holds about k pages
// of keys of the shape a node's record buckets hold, and, whatever the
// keys, lies past where it is cut from.
func TestScaleAhead(t *testing.T) {
	for _, name := range []string{"digests"} {
		b := newBucket(keySets[name], 200000, 1000, 10)
		for _, i := range []int{0, 4321, 100000, 190000} {
			page := b.keys[i : i+1000]
			sc, ok := newScale(page)
			if !ok {
				t.Fatalf("%s: no scale of page %d", name, i)
			}
			last := page[len(page)-1]
			m, ok := sc.ahead(last, page[0], last, 2)
			if !ok || m <= last {
				t.Fatalf("%s: ahead(%q) = %q, %v", name, last, m, ok)
			}
			n := sort.SearchStrings(b.keys, m) - (i + 1000)
			if n < 1000 || n > 4000 {
				t.Errorf("%s: a cut 2 pages past page %d holds %d keys", name, i, n)
			}
		}
	}
	r := rand.New(rand.NewPCG(11, 12))
	for name, gen := range keySets {
		for range 2000 {
			page := make([]string, 10)
			for i := range page {
				page[i] = gen(r)
			}
			slices.Sort(page)
			if page[0] == page[9] {
				continue
			}
			sc, ok := newScale(page)
			if !ok {
				continue
			}
			cur := page[9]
			if r.IntN(2) == 0 {
				cur = gen(r)
			}
			if m, ok := sc.ahead(cur, page[0], page[9], 1+r.Float64()*3); ok && (m <= cur || !utf8.ValidString(m)) {
				t.Fatalf("%s: ahead(%q) on page %q..%q = %q", name, cur, page[0], page[9], m)
			}
		}
	}
}

// TestGuessedPast: a guess that held no key stops the guesses after it
// (the keys may end there), not the ranges that listed a page.
func TestGuessedPast(t *testing.T) {
	own := &keyRange{dense: true}
	empty := &keyRange{dense: true, guesses: 1}
	later := &keyRange{dense: true, guesses: 2}
	listedPage := &keyRange{dense: true}
	l := &listing{ranges: []*keyRange{own, empty, later, listedPage}}
	l.guessedPast(empty)
	if !own.dense || !listedPage.dense || later.dense {
		t.Fatalf("dense after an empty guess: %v %v %v", own.dense, later.dense, listedPage.dense)
	}
}
