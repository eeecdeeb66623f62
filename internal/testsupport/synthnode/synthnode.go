// Package synthnode is a node of any number of blobs, each accepted,
// that holds nothing per blob: listings are generated and each record is
// encoded from its key when read. Benchmarks of a million blobs measure
// the memory of the code under test, not the store's.
package synthnode

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"iter"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/objectstore"
)

// Count is STOREFS_BENCH_BLOBS, or def when it is unset.
func Count(def int) (int, error) {
	s := os.Getenv("STOREFS_BENCH_BLOBS")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("STOREFS_BENCH_BLOBS: %w", err)
	}
	return n, nil
}

// Digest is the i-th blob's multihash (sha2-256).
func Digest(i int) mh.Multihash {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(i))
	d, _ := mh.Sum(seed[:], mh.SHA2_256, -1)
	return d
}

// Size is a blob's size, by a rule on its digest, so that the listing
// and the records agree on it without holding it.
func Size(d mh.Multihash) int64 {
	dec, _ := mh.Decode(d)
	return int64(1<<20 + int(binary.BigEndian.Uint16(dec.Digest))%4096)
}

// ModTime is every blob's time.
var ModTime = time.Unix(1764000000, 0)

// Blobs lists N blobs in the v0.2.4 S3 layout; it serves nothing else.
type Blobs struct {
	blobstore.Store // nil: only listings are asked of it
	N               int
}

func (s Blobs) List(ctx context.Context) iter.Seq2[blobstore.Info, error] { return s.ListKeys(ctx) }

func (s Blobs) ListKeys(ctx context.Context) iter.Seq2[blobstore.Info, error] {
	return func(yield func(blobstore.Info, error) bool) {
		for i := range s.N {
			d := Digest(i)
			if !yield(blobstore.Info{Digest: d, Size: Size(d), ModTime: ModTime, Key: blobstore.S3{}.Key(d), Layout: blobstore.LayoutV024}, nil) {
				return
			}
		}
	}
}

func (Blobs) Files() blobstore.Files { return nil }

// Acceptances is an S3 acceptance bucket in which space Space(i)
// accepted blob i, for i < N. Reads, when set, counts the records read.
type Acceptances struct {
	objectstore.Store // nil: only List and Get are asked of it
	N                 int
	Space             func(i int) string
	Reads             *atomic.Int64
}

func (s Acceptances) List(ctx context.Context, prefix string) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		for i := range s.N {
			key := "z" + blobstore.Base58(Digest(i)) + "/" + s.Space(i) + ".cbor"
			if !yield(objectstore.Info{Key: key, Size: 200}, nil) {
				return
			}
		}
	}
}

func (s Acceptances) Get(ctx context.Context, key string, opts ...objectstore.GetOption) (objectstore.Object, error) {
	if s.Reads != nil {
		s.Reads.Add(1)
	}
	b58, space, _ := strings.Cut(key, "/")
	d, err := mh.FromB58String(strings.TrimPrefix(b58, "z"))
	if err != nil {
		return nil, fmt.Errorf("synthetic acceptance %q: %w", key, err)
	}
	data, err := acceptancestore.Codec{}.Encode(acceptancestore.Acceptance{Space: strings.TrimSuffix(space, ".cbor"), Digest: d,
		Size: Size(d), ExecutedAt: ModTime.Unix(), Cause: ipldutil.CBORCID(d)})
	if err != nil {
		return nil, err
	}
	return objectstore.ReadCloserObject{ReadCloser: io.NopCloser(bytes.NewReader(data)), Total: int64(len(data))}, nil
}

// PeakHeap samples the Go heap in use every interval until stop, which
// returns the highest it saw.
func PeakHeap(interval time.Duration) (stop func() uint64) {
	var max atomic.Uint64
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max.Load() {
				max.Store(ms.HeapInuse)
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(quit); <-done; return max.Load() }
}

// HeapInuse is the Go heap in use once garbage is collected.
func HeapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
