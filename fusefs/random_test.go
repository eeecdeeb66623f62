package fusefs_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/objectstore"
)

// gated holds every Get until want of them are in flight at once (or a
// bound passes), and records the most it saw.
type gated struct {
	blobstore.Store
	mu       sync.Mutex
	armed    bool
	want     int
	inflight int
	most     int
	open     chan struct{}
}

func (g *gated) Get(ctx context.Context, d mh.Multihash, opts ...objectstore.GetOption) (objectstore.Object, error) {
	g.mu.Lock()
	if g.armed {
		g.inflight++
		g.most = max(g.most, g.inflight)
		if g.inflight >= g.want {
			g.armed = false
			close(g.open)
		}
		open := g.open
		g.mu.Unlock()
		select {
		case <-open:
		case <-time.After(10 * time.Second):
		}
		g.mu.Lock()
		g.inflight--
	}
	g.mu.Unlock()
	return g.Store.Get(ctx, d, opts...)
}

// TestRandomReadersRunSideBySide: 16 readers of one blob, each at its own
// random offset, are all at the backend at once: none waits for
// another's request (a blob keeps 8 runs; the rest are served on their
// own, and the mount lets 64 READs be in flight).
func TestRandomReadersRunSideBySide(t *testing.T) {
	fusetest.Require(t)
	data := make([]byte, 64<<20)
	rand.NewChaCha8([32]byte{9}).Read(data)
	st, digests := memoryBlobs(t, data)
	g := &gated{Store: st.Blobs}
	dir := mountRoot(t, newRoot(t, fusefs.Stores{Blobs: g}, fusefs.Config{Log: testLog(t)}))
	path := filepath.Join(dir, "blobs", blobstore.Name(digests[0]))
	if _, err := os.Stat(path); err != nil { // the lookup's own request, before the gate
		t.Fatal(err)
	}
	const readers = 16
	g.mu.Lock()
	g.armed, g.want, g.open = true, readers, make(chan struct{})
	g.mu.Unlock()

	var wg sync.WaitGroup
	for i := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			off := int64(i)*(4<<20) + 12345
			buf := make([]byte, 4096)
			if n, err := f.ReadAt(buf, off); err != nil || string(buf[:n]) != string(data[off:off+4096]) {
				t.Errorf("reader %d: %d bytes, %v", i, n, err)
			}
		}()
	}
	wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.most < readers {
		t.Fatalf("at most %d of %d random reads were at the backend at once", g.most, readers)
	}
}

// TestLsAsksNoLabels: ls -l asks every entry for its SELinux label and
// ACL; told the namespaces are not supported, it stops asking, so two
// listings of 300 blobs cost a handful of GETXATTRs, not two per entry.
// The storefs attributes still answer.
func TestLsAsksNoLabels(t *testing.T) {
	fusetest.Require(t)
	var blobs [][]byte
	for i := range 300 {
		blobs = append(blobs, []byte(fmt.Sprint("blob ", i)))
	}
	st, digests := memoryBlobs(t, blobs...)
	dir, _, m := mountWithMetrics(t, st, 0)
	for range 2 {
		if out, err := exec.Command("ls", "-l", filepath.Join(dir, "blobs")).CombinedOutput(); err != nil {
			t.Fatalf("ls -l: %v\n%s", err, out)
		}
	}
	if n := m.FuseOps("getxattr"); n > 20 {
		t.Fatalf("two ls -l of 300 blobs sent %d GETXATTRs", n)
	}
	buf := make([]byte, 128)
	n, err := syscall.Getxattr(filepath.Join(dir, "blobs", blobstore.Name(digests[0])), "user.storefs.multihash", buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "zQm") {
		t.Fatalf("user.storefs.multihash: %q, %v", buf[:n], err)
	}
}
