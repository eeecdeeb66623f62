package readstack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	mh "github.com/multiformats/go-multihash"
)

// verifyStore is what the verifier's catch-up reads: the blob's stored bytes.
type verifyStore struct {
	data    []byte
	fetched atomic.Int64
	fail    atomic.Int32 // fail this many fetches
}

func (s *verifyStore) ReadRange(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	if s.fail.Add(-1) >= 0 {
		return nil, errors.New("injected: backend down")
	}
	s.fetched.Add(n)
	return io.NopCloser(bytes.NewReader(s.data[off : off+n])), nil
}

func digestOf(t *testing.T, data []byte) mh.Multihash {
	d, err := mh.Sum(data, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// reads cuts [0, size) into page-aligned READs of 4 KiB to 1 MiB, as the
// kernel sends them, in a shuffled order with some repeated.
func reads(r *rand.Rand, size int64) [][2]int64 {
	var out [][2]int64
	for off := int64(0); off < size; {
		n := min(size-off, int64(1+r.IntN(256))*pageSize)
		out = append(out, [2]int64{off, n})
		off += n
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	for range len(out) / 4 {
		out = append(out, out[r.IntN(len(out))]) // re-reads
	}
	return out
}

// serveAll runs the READs the way the mount does; it returns the index of
// the first refused READ, or -1.
func serveAll(t *testing.T, v *blobVerifier, served []byte, rs [][2]int64) (int, error) {
	t.Helper()
	for i, rd := range rs {
		if err := v.Serve(context.Background(), served[rd[0]:rd[0]+rd[1]], rd[0]); err != nil {
			return i, err
		}
	}
	return -1, nil
}

// covers reports whether rs[:i+1] serves every byte of [0, size).
func covers(rs [][2]int64, i int, size int64) bool {
	seen := make([]bool, size)
	for _, rd := range rs[:i+1] {
		for b := rd[0]; b < rd[0]+rd[1]; b++ {
			seen[b] = true
		}
	}
	for _, s := range seen {
		if !s {
			return false
		}
	}
	return true
}

func TestVerifierAnyOrder(t *testing.T) {
	for seed := range uint64(60) {
		r := rand.New(rand.NewPCG(seed, 1))
		size := int64(1 + r.IntN(3<<20))
		if seed%5 == 0 {
			size = int64(1+r.IntN(8)) * pageSize // whole pages
		}
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{byte(seed)}).Read(data)
		digest := digestOf(t, data)
		rs := reads(r, size)

		// Intact: every READ is served; the verdict is good.
		st := &verifyStore{data: data}
		v, err := newBlobVerifier(digest, size, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i, err := serveAll(t, v, data, rs); i >= 0 {
			t.Fatalf("seed %d: READ %d of an intact blob refused: %v", seed, i, err)
		}
		if done, err := v.Verdict(); !done || err != nil {
			t.Fatalf("seed %d: intact blob read whole: verdict %v, %v", seed, done, err)
		}

		// Corrupt, one byte anywhere: the READ that completes the blob
		// is refused, and every READ after it.
		bad := bytes.Clone(data)
		bad[r.Int64N(size)] ^= 0x20
		st = &verifyStore{data: bad}
		v, _ = newBlobVerifier(digest, size, st, nil)
		i, err := serveAll(t, v, bad, rs)
		if i < 0 || !errors.Is(err, errBlobCorrupt) {
			t.Fatalf("seed %d: corrupt blob read whole in shuffled READs: refused at %d (%v)", seed, i, err)
		}
		if !covers(rs, i, size) || (i > 0 && covers(rs, i-1, size)) {
			t.Fatalf("seed %d: refused READ %d is not the one that completes the blob", seed, i)
		}
		if err := v.Serve(context.Background(), bad[:1], 0); !errors.Is(err, errBlobCorrupt) {
			t.Fatalf("seed %d: a READ after the verdict: %v", seed, err)
		}
	}
}

// Out-of-order READs within the read-ahead window are kept, not fetched
// again; past maxPending the catch-up fetches what it lost.
func TestVerifierKeepsThenFetches(t *testing.T) {
	const size = 24 << 20
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{9}).Read(data)
	digest := digestOf(t, data)

	// The kernel's pattern: a later window before the one in between.
	st := &verifyStore{data: data}
	v, _ := newBlobVerifier(digest, size, st, nil)
	rs := [][2]int64{{0, 256 << 10}, {786432, 256 << 10}, {256 << 10, 512 << 10}}
	for off := int64(1 << 20); off < size; off += 1 << 20 {
		rs = append(rs, [2]int64{off, 1 << 20})
	}
	if i, err := serveAll(t, v, data, rs); i >= 0 {
		t.Fatalf("READ %d refused: %v", i, err)
	}
	if done, err := v.Verdict(); !done || err != nil || st.fetched.Load() != 0 {
		t.Fatalf("verdict %v %v; fetched %d bytes again, want 0", done, err, st.fetched.Load())
	}

	// Read backwards: nothing is in order, pending overflows.
	st = &verifyStore{data: data}
	v, _ = newBlobVerifier(digest, size, st, nil)
	rs = nil
	for off := int64(size - 1<<20); off >= 0; off -= 1 << 20 {
		rs = append(rs, [2]int64{off, 1 << 20})
	}
	if i, err := serveAll(t, v, data, rs); i >= 0 {
		t.Fatalf("backwards READ %d refused: %v", i, err)
	}
	if f := st.fetched.Load(); f == 0 || f > size-maxPending+1<<20 {
		t.Errorf("backwards: fetched %d bytes again; want what pending could not keep", f)
	}
	if v.kept != 0 || v.pending != nil {
		t.Errorf("kept bytes after the verdict: %d", v.kept)
	}
}

// A catch-up that fails decides nothing: that READ fails, the next READ
// that completes the blob tries again.
func TestVerifierFetchFailure(t *testing.T) {
	const size = 3 << 20
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{5}).Read(data)
	st := &verifyStore{data: data}
	v, _ := newBlobVerifier(digestOf(t, data), size, st, nil)
	// The last MiB first, dropped as if pending had overflowed, so the
	// READ that completes the blob must fetch it again.
	v.Serve(context.Background(), data[2<<20:], 2<<20)
	v.pending, v.kept = nil, 0
	st.fail.Store(1)
	err := v.Serve(context.Background(), data[:2<<20], 0)
	if err == nil || errors.Is(err, errBlobCorrupt) {
		t.Fatalf("completing READ with the backend down: %v, want a fetch error", err)
	}
	if done, _ := v.Verdict(); done {
		t.Fatal("a failed fetch decided the verdict")
	}
	if err := v.Serve(context.Background(), data[:pageSize], 0); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if done, err := v.Verdict(); !done || err != nil {
		t.Fatalf("after the retry: %v %v", done, err)
	}
}

func TestVerifierEmptyAndPartial(t *testing.T) {
	st := &verifyStore{}
	v, _ := newBlobVerifier(digestOf(t, nil), 0, st, nil)
	if done, err := v.Verdict(); !done || err != nil {
		t.Fatalf("empty intact blob: %v %v", done, err)
	}
	v, _ = newBlobVerifier(digestOf(t, []byte("not empty")), 0, st, nil)
	if done, err := v.Verdict(); !done || !errors.Is(err, errBlobCorrupt) {
		t.Fatalf("empty blob named for other bytes: %v %v", done, err)
	}

	data := make([]byte, 1<<20)
	v, _ = newBlobVerifier(digestOf(t, data), int64(len(data)), (&verifyStore{data: data}), nil)
	for off := int64(0); off < 512<<10; off += 128 << 10 {
		if err := v.Serve(context.Background(), data[off:off+128<<10], off); err != nil {
			t.Fatal(err)
		}
	}
	if done, _ := v.Verdict(); done {
		t.Fatal("half a blob decided the verdict")
	}
	if n := v.TakeUnverified(); n != 4 {
		t.Errorf("unverified READs: %d, want 4", n)
	}
	if n := v.TakeUnverified(); n != 0 {
		t.Errorf("unverified READs counted twice: %d", n)
	}
}

// Concurrent READs of one blob, as several open files send them.
func TestVerifierConcurrent(t *testing.T) {
	const size = 8 << 20
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{6}).Read(data)
	bad := bytes.Clone(data)
	bad[5000] ^= 1
	for _, c := range []struct {
		served []byte
		want   error
	}{{data, nil}, {bad, errBlobCorrupt}} {
		v, _ := newBlobVerifier(digestOf(t, data), size, (&verifyStore{data: c.served}), nil)
		var wg sync.WaitGroup
		var refused atomic.Int32
		for g := range 4 {
			wg.Go(func() {
				rs := reads(rand.New(rand.NewPCG(uint64(g), 2)), size)
				for _, rd := range rs {
					if err := v.Serve(context.Background(), c.served[rd[0]:rd[0]+rd[1]], rd[0]); err != nil {
						refused.Add(1)
						if !errors.Is(err, errBlobCorrupt) {
							t.Errorf("refused with %v", err)
						}
						return
					}
				}
			})
		}
		wg.Wait()
		done, err := v.Verdict()
		if !done || !errors.Is(err, c.want) || (c.want == nil) != (refused.Load() == 0) {
			t.Fatalf("4 concurrent readers: verdict %v %v, %d refused; want %v", done, err, refused.Load(), c.want)
		}
	}
}
