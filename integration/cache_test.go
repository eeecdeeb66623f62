package integration

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/storacha/storefs/internal/testsupport/s3test"
)

// TestCacheDirWithVerify drives --cache-dir as an operator would: a
// verified read leaves an outboard (the blob itself is bigger than the
// cache), a second mount on the cache dir and `storefs cache clear` are
// refused naming the first, and after a byte rots in the stored S3
// object a 4 KiB read over it fails with EIO on a new mount while the
// rest of the blob reads.
func TestCacheDirWithVerify(t *testing.T) {
	srv := s3test.Start(t)
	n := s3Node(t, srv)
	name, data := bigBlob(t, srv, 7, 8<<20)
	cache, mnt := t.TempDir(), t.TempDir()
	args := append(n.args, "--verify", "--cache-dir", cache, "--cache-size", "4M")
	addr := freeAddr(t)
	d := startMount(t, mnt, append(args, "--metrics-addr", addr)...)
	path := filepath.Join(mnt, "blobs", name)
	sum := sha256.Sum256(data)
	if got := strings.Fields(run(t, "sha256sum", path))[0]; got != fmt.Sprintf("%x", sum) {
		t.Fatalf("sha256sum through the mount: %s", got)
	}
	m := scrape(t, addr)
	if metric(t, m, "storefs_cache_misses_total") < 1 || metric(t, m, "storefs_cache_bytes") <= 0 {
		t.Errorf("cache metrics did not move:\n%s", grepLines(m, "storefs_cache"))
	}

	// One mount per cache dir.
	other := t.TempDir()
	cmd := exec.Command(bin, append(append([]string{"mount"}, args...), other)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := finish(cmd)
	var ee *exec.ExitError
	pid := "pid " + strconv.Itoa(d.cmd.Process.Pid)
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), pid) || mounted(other) {
		t.Errorf("second mount on the cache dir: %v, %q; want exit 1 naming %s", err, stderr.String(), pid)
	}
	if msg := fails(t, bin, "cache", "clear", cache); !strings.Contains(msg, pid) {
		t.Errorf("cache clear while mounted: %q", msg)
	}
	if out := run(t, bin, "cache", "stat", cache); !strings.Contains(out, pid) || !strings.Contains(out, "outboards:  1") {
		t.Errorf("cache stat while mounted:\n%s", out)
	}
	if err := d.stop(syscall.SIGTERM, 10*time.Second); err != nil {
		t.Fatalf("storefs exit: %v", err)
	}
	if out := run(t, bin, "cache", "ls", cache); out != fmt.Sprintf("%s\t0\t%d\n", name, len(data)) {
		t.Fatalf("cache ls: %q, want the blob with no bytes (it is bigger than the cache)", out)
	}

	// Rot at rest in the stored object.
	const at = 5<<20 + 4321
	obj := filepath.Join(srv.DataDir, "node1-pdp", name[len(name)-3:len(name)-1], name+".data")
	f, err := os.OpenFile(obj, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{data[at] ^ 0x10}, at)
	f.Close()

	d = startMount(t, mnt, args...)
	if got := run(t, "dd", "if="+path, "bs=4096", "skip=10", "count=1", "status=none"); got != string(data[40960:45056]) {
		t.Fatal("4 KiB away from the rot: wrong bytes")
	}
	msg := fails(t, "dd", "if="+path, "bs=4096", fmt.Sprintf("skip=%d", at/4096), "count=1", "status=none", "of=/dev/null")
	if !strings.Contains(msg, "Input/output error") {
		t.Errorf("4 KiB read over the flipped byte: %q, want EIO", msg)
	}
	d.stop(syscall.SIGTERM, 10*time.Second)
	if !strings.Contains(d.log.String(), "verify failed") {
		t.Errorf("no log line for the rot:\n%s", d.log)
	}
	run(t, bin, "cache", "clear", cache)
	if out := run(t, bin, "cache", "ls", cache); out != "" {
		t.Errorf("cache ls after clear: %q", out)
	}
}
