package minio_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/store/objectstore"
	s3 "github.com/storacha/storefs/store/objectstore/minio"
	"github.com/storacha/storefs/store/objectstore/objectstoretest"
)

func config(srv *s3test.Server) s3.Config {
	return s3.Config{
		Endpoint:        srv.Endpoint,
		AccessKeyID:     s3test.AccessKey,
		SecretAccessKey: s3test.SecretKey,
		Insecure:        true,
		Timeout:         5 * time.Second,
	}
}

func open(t *testing.T, cfg s3.Config, bucket string, create bool) *s3.Store {
	t.Helper()
	c, err := s3.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Bucket(context.Background(), bucket, create)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	var n atomic.Int32
	objectstoretest.Run(t, objectstoretest.Backend{
		Ordered: true,
		New: func(t *testing.T) objectstore.Store {
			return open(t, config(srv), fmt.Sprintf("conformance%d", n.Add(1)), true)
		},
		Streams: true,
		Times:   true,
	})
}

func TestMissingBucketIsNotCreated(t *testing.T) {
	srv := s3test.Start(t)
	c, err := s3.NewClient(config(srv))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Bucket(context.Background(), "absent", false); !errors.Is(err, s3.ErrNoBucket) || errors.Is(err, objectstore.ErrNotExist) {
		t.Fatalf("open of a missing bucket: %v, want ErrNoBucket", err)
	}
	buckets, err := srv.Client().ListBuckets(context.Background())
	if err != nil || len(buckets) != 0 {
		t.Fatalf("buckets after opening a missing one: %v, %v", buckets, err)
	}
}

// counting counts requests by method and fails the first `fail` of them
// with the given status.
type counting struct {
	next   http.RoundTripper
	fail   atomic.Int32
	status int
	gets   atomic.Int32
	heads  atomic.Int32
	ranges []string
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.Method {
	case http.MethodGet:
		if r.URL.Query().Get("list-type") == "" && r.URL.Path != "/" && strings.Count(strings.Trim(r.URL.Path, "/"), "/") > 0 {
			c.gets.Add(1)
			c.ranges = append(c.ranges, r.Header.Get("Range"))
		}
	case http.MethodHead:
		c.heads.Add(1)
	}
	if c.fail.Add(-1) >= 0 {
		return &http.Response{
			StatusCode: c.status, Status: http.StatusText(c.status), Request: r,
			Header: http.Header{"Content-Type": {"application/xml"}},
			Body:   io.NopCloser(strings.NewReader(`<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>injected</Message></Error>`)),
		}, nil
	}
	return c.next.RoundTrip(r)
}

func TestOneGetPerRangedRead(t *testing.T) {
	srv := s3test.Start(t)
	rt := &counting{}
	cfg := config(srv)
	cfg.WrapTransport = func(next http.RoundTripper) http.RoundTripper { rt.next = next; return rt }
	s := open(t, cfg, "ranged", true)
	data := objectstoretest.Data(1, 1<<20)
	objectstoretest.Put(t, s, "obj", data)
	rt.gets.Store(0)
	rt.heads.Store(0)
	rt.ranges = nil
	got, size := objectstoretest.Read(t, s, "obj", objectstore.WithRange(objectstore.Bytes(4096, 8191)))
	if !bytes.Equal(got, data[4096:8192]) || size != int64(len(data)) {
		t.Fatalf("ranged read: %d bytes, size %d", len(got), size)
	}
	if rt.gets.Load() != 1 || rt.heads.Load() != 0 || fmt.Sprint(rt.ranges) != "[bytes=4096-8191]" {
		t.Fatalf("a ranged read sent %d GETs %v and %d HEADs; want one GET", rt.gets.Load(), rt.ranges, rt.heads.Load())
	}
}

func TestRetriesThrottling(t *testing.T) {
	srv := s3test.Start(t)
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusTooManyRequests} {
		rt := &counting{status: status}
		cfg := config(srv)
		cfg.MaxRetries = 3
		cfg.WrapTransport = func(next http.RoundTripper) http.RoundTripper { rt.next = next; return rt }
		s := open(t, cfg, fmt.Sprintf("retry%d", status), true)
		objectstoretest.Put(t, s, "obj", []byte("payload"))

		rt.fail.Store(2) // two failures, then success: retried
		if got, _ := objectstoretest.Read(t, s, "obj"); string(got) != "payload" {
			t.Fatalf("%d: read %q", status, got)
		}
		rt.fail.Store(100) // never succeeds: an error, and never "not found"
		_, err := s.Get(context.Background(), "obj")
		if err == nil || errors.Is(err, objectstore.ErrNotExist) {
			t.Fatalf("%d on every attempt: %v; want an error that is not ErrNotExist", status, err)
		}
		if _, err := s.Stat(context.Background(), "obj"); err == nil || errors.Is(err, objectstore.ErrNotExist) {
			t.Fatalf("%d on every stat attempt: %v; want an error that is not ErrNotExist", status, err)
		}
		if used := 100 - rt.fail.Load(); used > 2*int32(cfg.MaxRetries) {
			t.Fatalf("%d: %d attempts for a get and a stat with MaxRetries %d", status, used, cfg.MaxRetries)
		}
	}
}

func TestUnreachable(t *testing.T) {
	srv := s3test.Start(t)
	cfg := config(srv)
	srv.Stop()
	c, err := s3.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Bucket(context.Background(), "any", false)
	if err == nil || errors.Is(err, objectstore.ErrNotExist) || errors.Is(err, s3.ErrNoBucket) {
		t.Fatalf("unreachable server: %v", err)
	}
	if !strings.Contains(err.Error(), srv.Endpoint) {
		t.Errorf("error does not name the endpoint: %v", err)
	}
	t.Logf("unreachable reported after %v: %v", time.Since(start), err)
}

func TestCredentialsNeverInErrors(t *testing.T) {
	srv := s3test.Start(t)
	cfg := config(srv)
	cfg.AccessKeyID = "AKIASECRETACCESSKEYID"
	cfg.SecretAccessKey = "wrong-secret-value-123"
	c, err := s3.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Bucket(context.Background(), "any", false)
	if err == nil {
		t.Fatal("wrong credentials accepted")
	}
	// Said as what it is, and matched as a permission error (EACCES in
	// the mount, never ENOENT).
	if !errors.Is(err, objectstore.ErrAccessDenied) || !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "access denied") {
		t.Errorf("wrong credentials: %v; want access denied", err)
	}
	for _, secret := range []string{cfg.AccessKeyID, cfg.SecretAccessKey} {
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", err), secret) {
			t.Fatalf("error shows a credential: %v", err)
		}
	}
}

// TestStalledServer pauses the server (SIGSTOP) mid-read: the read fails
// once the server has been quiet for the timeout, instead of hanging.
func TestStalledServer(t *testing.T) {
	srv := s3test.Start(t)
	cfg := config(srv)
	cfg.Timeout = time.Second
	cfg.MaxRetries = 1
	s := open(t, cfg, "stall", true)
	objectstoretest.Put(t, s, "big", objectstoretest.Data(2, 32<<20))

	obj, err := s.Get(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if _, err := io.ReadFull(obj, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, obj); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Log("the whole body was already buffered before the pause")
		} else if errors.Is(err, objectstore.ErrNotExist) {
			t.Fatalf("stall reported as not found: %v", err)
		}
	case <-time.After(30 * time.Second): // a generous bound: the verdict is "did not hang"
		t.Fatal("read hung on a stopped server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Stat(ctx, "big"); err == nil || errors.Is(err, objectstore.ErrNotExist) {
		t.Fatalf("stat on a stopped server: %v", err)
	}
}

func BenchmarkRangedGet(b *testing.B) {
	srv := s3test.Start(b, s3test.KeepAlive())
	c, err := s3.NewClient(config(srv))
	if err != nil {
		b.Fatal(err)
	}
	s, err := c.Bucket(context.Background(), "bench", true)
	if err != nil {
		b.Fatal(err)
	}
	objectstoretest.Bench(b, s, "bench")
}

// TestRegionAskedOfTheServer: with no region given the client asks the
// server for each bucket's, so a server in another region than us-east-1
// (AWS elsewhere, MinIO with MINIO_REGION, Garage, Ceph) works; signing
// for the wrong region is refused, which is what the test tells apart.
func TestRegionAskedOfTheServer(t *testing.T) {
	srv := s3test.Start(t, s3test.WithRegion("eu-central-1"))
	srv.MakeBucket("regional")
	ctx := context.Background()
	s := open(t, config(srv), "regional", false)
	if err := s.Put(ctx, "k", 5, strings.NewReader("hello")); err != nil {
		t.Fatalf("put with the region asked of the server: %v", err)
	}
	obj, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(obj)
	obj.Close()
	if string(got) != "hello" {
		t.Fatalf("get: %q", got)
	}
	for _, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatalf("list: %v", err)
		}
	}
	created := open(t, config(srv), "created-here", true)
	if err := created.Put(ctx, "k", 1, strings.NewReader("x")); err != nil {
		t.Fatalf("put into a bucket created with the region asked of the server: %v", err)
	}

	wrong := config(srv)
	wrong.Region = "us-east-1"
	c, err := s3.NewClient(wrong)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Bucket(ctx, "regional", false); err == nil {
		t.Fatal("a client signing for us-east-1 opened a bucket of an eu-central-1 server: the test cannot tell regions apart")
	}
}

// TestShardedListing: a full listing of a Sharded bucket, run per shard
// with 3 at once, yields what one listing yields, the sharded keys in key
// order, bare top-level keys included; it stops early without leaving
// a goroutine, and a cancelled listing ends with an error.
func TestShardedListing(t *testing.T) {
	srv := s3test.Start(t)
	plain := open(t, config(srv), "sharded", true)
	ctx := context.Background()
	var put []string
	for i := range 40 {
		key := fmt.Sprintf("%02d/key-%03d.data", i%13, i)
		objectstoretest.Put(t, plain, key, []byte(fmt.Sprint(i)))
		put = append(put, fmt.Sprintf("%s %d", key, len(fmt.Sprint(i))))
	}
	for _, bare := range []string{"00a", "05bare", "zz-last"} {
		objectstoretest.Put(t, plain, bare, []byte(bare))
		put = append(put, fmt.Sprintf("%s %d", bare, len(bare)))
	}
	slices.Sort(put)
	keys := func(s *s3.Store) []string {
		var out []string
		for info, err := range s.List(ctx, "") {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %d", info.Key, info.Size))
		}
		return out
	}
	// Listings by shard are listings with a delimiter: counted.
	var perShard atomic.Int32
	cfg := config(srv)
	cfg.WrapTransport = func(next http.RoundTripper) http.RoundTripper {
		return roundTrip(func(r *http.Request) (*http.Response, error) {
			if r.URL.Query().Get("delimiter") != "" || r.URL.Query().Get("prefix") != "" {
				perShard.Add(1)
			}
			return next.RoundTrip(r)
		})
	}
	// A small bucket is listed page by page: the same listing.
	small := open(t, cfg, "sharded", false).Sharded(3)
	if got, want := keys(small), put; strings.Join(got, ",") != strings.Join(want, ",") || perShard.Load() != 0 {
		t.Fatalf("a small sharded bucket (%d listings by shard):\n%v\nwant\n%v", perShard.Load(), got, want)
	}
	// A big one (its first 1,000 keys in 2 shards) turns to a listing per
	// shard after the shard it is in.
	for i := range 2600 {
		key := fmt.Sprintf("%02d/big-%04d.data", i%5, i)
		objectstoretest.Put(t, plain, key, []byte("b"))
		put = append(put, key+" 1")
	}
	want := slices.Sorted(slices.Values(put))
	if got := keys(plain); !slices.Equal(got, want) {
		t.Fatalf("plain listing: %d keys, want %d", len(got), len(want))
	}
	sharded := open(t, cfg, "sharded", false).Sharded(3)
	got := keys(sharded)
	if perShard.Load() < 11 { // the top level, and the 11 shards after the first two
		t.Fatalf("%d listings by shard", perShard.Load())
	}
	// Every key in key order, bare top-level keys among the shards
	// where they sort ("00a" after shard 00, "05bare" after shard 05),
	// as the listing page by page has them.
	if !slices.Equal(got, want) || len(got) != 2643 {
		t.Fatalf("sharded listing:\n%v\nwant:\n%v", got, want)
	}
	n := 0
	for range sharded.List(ctx, "") {
		if n++; n == 5 {
			break
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var last error
	for _, err := range sharded.List(cctx, "") {
		last = err
	}
	if last == nil {
		t.Fatal("a cancelled listing ended without an error")
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRangedListing: a bucket without shards (records; flat v0.2.3
// blobs) past its first page is listed by ranges of keys at once, cut
// at points that are no key, and yields every key once in key order,
// keys of odd bytes included.
func TestRangedListing(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	b32 := func(i int) string { // a digest's base-32 letters
		d := fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint(i))))
		return "ciq" + strings.Map(func(r rune) rune {
			if r <= '9' {
				return r - '0' + 'a'
			}
			return r - 'a' + 'q'
		}, d[:30])
	}
	odd := []string{"a key with spaces", "caf\u00e9/\u00e9t\u00e9", "~tilde~", "\U0001F600"}
	for _, c := range []struct {
		bucket  string
		key     func(i int) string
		sharded bool
	}{
		{"records", func(i int) string { return b32(i) + "/did:key:z6Mk" + fmt.Sprint(i) }, false},
		{"flatblobs", func(i int) string { return b32(i) }, true},
	} {
		want := slices.Clone(odd)
		for i := range 3000 {
			want = append(want, c.key(i))
		}
		putAll(t, open(t, config(srv), c.bucket, true), want)
		slices.Sort(want)

		var cuts atomic.Int32 // listings that start after a point that is no key
		cfg := config(srv)
		cfg.WrapTransport = func(next http.RoundTripper) http.RoundTripper {
			return roundTrip(func(r *http.Request) (*http.Response, error) {
				if after := r.URL.Query().Get("start-after"); after != "" && !slices.Contains(want, after) {
					cuts.Add(1)
				}
				return next.RoundTrip(r)
			})
		}
		s := open(t, cfg, c.bucket, false)
		if c.sharded {
			s = s.Sharded(3)
		}
		var got []string
		for info, err := range s.List(ctx, "") {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, info.Key)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %d keys listed, want %d", c.bucket, len(got), len(want))
		}
		if cuts.Load() == 0 {
			t.Fatalf("%s: a listing of 3,004 keys ran page by page", c.bucket)
		}
	}
}

// putAll stores a byte under each key, 8 at a time.
func putAll(t *testing.T, s *s3.Store, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	ch := make(chan string)
	for range 8 {
		wg.Go(func() {
			for k := range ch {
				if err := s.Put(context.Background(), k, 1, strings.NewReader("r")); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for _, k := range keys {
		ch <- k
	}
	close(ch)
	wg.Wait()
}
