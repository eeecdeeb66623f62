package fusefs_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/internal/testsupport/toxitest"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
)

// TestRemoteFaults: S3 across a network that misbehaves (toxiproxy in
// front of versitygw). A latency spike below the timeout costs no error;
// a bandwidth collapse is EIO within the operation's bound, the mount
// staying alive; a connection reset mid-body is resumed or EIO, never
// wrong bytes; and reads work again once the network recovers. Every
// read is bounded by the test, so none can hang it.
func TestRemoteFaults(t *testing.T) {
	fusetest.Require(t)
	srv := s3test.Start(t)
	proxy := toxitest.Start(t, srv.Endpoint)
	ctx := context.Background()
	s3 := func(endpoint string, writable bool) *node.Stores {
		st, err := node.Open(ctx, node.Config{Writable: writable, Timeout: 2 * time.Second,
			S3: &node.S3{Endpoint: endpoint, BucketPrefix: "far-", Insecure: true, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	w := s3(srv.Endpoint, true)
	var blobs [][]byte
	var names []string
	for i := range 5 { // a fresh blob per case: the page cache keeps what was read
		data := make([]byte, 12<<20)
		rand.NewChaCha8([32]byte{byte(i)}).Read(data)
		d, _ := mh.Sum(data, mh.SHA2_256, -1)
		must(t, w.Blobs.Put(ctx, d, int64(len(data)), bytes.NewReader(data)))
		blobs, names = append(blobs, data), append(names, blobstore.Name(d))
	}
	far := s3(proxy.Listen, false)
	dir := mountRoot(t, newRoot(t, fusefs.Stores{Blobs: far.Blobs}, fusefs.Config{Log: testLog(t), OpTimeout: 8 * time.Second}))

	// read reads blob i whole through the mount, within a bound far above
	// the operation timeout.
	read := func(i int) ([]byte, error) {
		type result struct {
			data []byte
			err  error
		}
		done := make(chan result, 1)
		go func() {
			data, err := os.ReadFile(filepath.Join(dir, "blobs", names[i]))
			done <- result{data, err}
		}()
		select {
		case r := <-done:
			return r.data, r.err
		case <-time.After(60 * time.Second):
			t.Fatalf("blob %d: the read did not end within 60 s", i)
			return nil, nil
		}
	}
	intact := func(i int) {
		t.Helper()
		got, err := read(i)
		if err != nil || !bytes.Equal(got, blobs[i]) {
			t.Fatalf("blob %d: %d bytes, %v", i, len(got), err)
		}
	}

	intact(0) // through the proxy, no toxics

	proxy.Add("spike", "latency", map[string]any{"latency": 400})
	intact(1)
	proxy.Remove("spike")

	proxy.Add("collapse", "bandwidth", map[string]any{"rate": 1}) // 1 KB/s
	if _, err := read(2); !errors.Is(err, syscall.EIO) {
		t.Fatalf("a stalled read: %v, want EIO", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs")); err != nil {
		t.Fatalf("the mount after a stall: %v", err)
	}
	proxy.Remove("collapse")
	intact(2) // recovered

	proxy.Add("reset", "reset_peer", map[string]any{"timeout": 200})
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(600 * time.Millisecond)
		proxy.Remove("reset")
	}()
	got, err := read(3)
	<-done
	switch {
	case err == nil && !bytes.Equal(got, blobs[3]):
		t.Fatal("a read across a reset returned wrong bytes")
	case err != nil && !errors.Is(err, syscall.EIO):
		t.Fatalf("a read across a reset: %v, want its bytes or EIO", err)
	}
	t.Logf("a read across connection resets: %d bytes, %v", len(got), err)
	intact(4)
}
