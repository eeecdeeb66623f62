package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mh "github.com/multiformats/go-multihash"
	"golang.org/x/sys/unix"

	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
)

// bigBlob stores n random bytes as a blob in the S3 node and returns its
// name and data.
func bigBlob(t *testing.T, srv *s3test.Server, seed uint64, n int) (string, []byte) {
	data := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(data)
	st, err := node.Open(context.Background(), node.Config{Writable: true, S3: &node.S3{Endpoint: srv.Endpoint,
		BucketPrefix: "node1-", Insecure: true, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := mh.Sum(data, mh.SHA2_256, -1)
	if err := st.Blobs.Put(context.Background(), d, int64(n), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return blobstore.Name(d), data
}

// readUntilError reads a file to its end; it returns the error that ended
// it and how long that took. A hang is a failure after limit.
func readUntilError(t *testing.T, f *os.File, limit time.Duration) (error, time.Duration) {
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, f)
		done <- err
	}()
	select {
	case err := <-done:
		return err, time.Since(start)
	case <-time.After(limit):
		t.Fatalf("read still blocked after %v", limit)
	}
	return nil, 0
}

func TestS3KilledMidRead(t *testing.T) {
	srv := s3test.Start(t)
	n := s3Node(t, srv)
	name, data := bigBlob(t, srv, 1, 256<<20)
	mnt := t.TempDir()
	startMount(t, mnt, append(n.args, "--timeout", "2s")...)
	path := filepath.Join(mnt, "blobs", name)

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadFull(f, make([]byte, 8<<20)); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	err, took := readUntilError(t, f, time.Minute)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("read after the server died: %v, want EIO", err)
	}
	t.Logf("EIO %v after the S3 server was killed (timeout 2s)", took.Round(time.Millisecond))
	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil {
		t.Fatalf("the mount went down with the server: %v", err)
	}

	srv.Restart()
	got, err := os.ReadFile(path)
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("read after the server came back: %d bytes, %v", len(got), err)
	}
}

func TestS3Stopped(t *testing.T) {
	srv := s3test.Start(t)
	n := s3Node(t, srv)
	name, data := bigBlob(t, srv, 2, 16<<20)
	mnt := t.TempDir()
	startMount(t, mnt, append(n.args, "--timeout", "2s")...)
	path := filepath.Join(mnt, "blobs", name)
	run(t, "ls", "-l", filepath.Join(mnt, "blobs")) // sizes known: open needs no request

	srv.Pause()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err, took := readUntilError(t, f, 30*time.Second)
	f.Close()
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("read from a stopped server: %v, want EIO", err)
	}
	t.Logf("EIO %v after reading from a SIGSTOPped server (timeout 2s)", took.Round(time.Millisecond))
	srv.Resume()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after the server resumed: %v", err)
	}
}

func TestSIGTERMWithActiveReaders(t *testing.T) {
	srv := s3test.Start(t)
	n := s3Node(t, srv)
	name, _ := bigBlob(t, srv, 3, 128<<20)
	mnt := t.TempDir()
	d := startMount(t, mnt, n.args...)
	var readers []*exec.Cmd
	for range 4 {
		cmd := exec.Command("dd", "if="+filepath.Join(mnt, "blobs", name), "of=/dev/null", "bs=64k")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		readers = append(readers, cmd)
	}
	if err := d.stop(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Errorf("exit status after SIGTERM with readers: %v", err)
	}
	for _, r := range readers {
		r.Wait() // they end: finished, or an error once the mount is gone
	}
	if mounted(mnt) {
		t.Fatal("still mounted")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil {
		t.Fatalf("mountpoint not usable after SIGTERM: %v", err)
	}
}

func TestMountErrors(t *testing.T) {
	fusetest.Require(t)
	n := dataDirNode(t)

	// A running Piri node holds its LevelDBs locked.
	holdLocks(t, n.args[1])
	start := time.Now()
	msg := fails(t, bin, "mount", "--data-dir", n.args[1], t.TempDir())
	if !strings.Contains(msg, "in use by another process") || !strings.Contains(msg, n.args[1]) {
		t.Errorf("locked leveldb: %q", msg)
	}
	t.Logf("locked leveldb reported after %v", time.Since(start).Round(time.Millisecond))

	// Unreachable S3: a clear error, no mount left.
	other := t.TempDir()
	msg = fails(t, bin, "mount", "--s3-endpoint", "127.0.0.1:1", "--s3-insecure", "--timeout", "2s", other)
	if !strings.Contains(msg, "127.0.0.1:1") || mounted(other) {
		t.Errorf("unreachable S3: %q", msg)
	}

	// Wrong S3 credentials: refused at start, said as access denied,
	// exit 1 (not a usage error), the secret nowhere.
	srv := s3test.Start(t)
	s3Node(t, srv)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-for-the-test")
	cmd := exec.Command(bin, "mount", "--s3-endpoint", srv.Endpoint, "--s3-insecure", "--s3-bucket-prefix", "node1-", other)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := finish(cmd)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "access denied") || mounted(other) ||
		strings.Contains(stderr.String(), "wrong-secret-for-the-test") {
		t.Errorf("wrong S3 credentials: %v, %q; want exit 1 saying access denied", err, stderr.String())
	}

	// A corrupt SHARDING file.
	bad := t.TempDir()
	os.MkdirAll(filepath.Join(bad, "pdp", "datastore"), 0o755)
	os.WriteFile(filepath.Join(bad, "pdp", "datastore", "SHARDING"), []byte("/repo/flatfs/shard/v1/sideways/9\n"), 0o644)
	msg = fails(t, bin, "mount", "--data-dir", bad, other)
	if !strings.Contains(msg, "corrupt SHARDING") || mounted(other) {
		t.Errorf("corrupt SHARDING: %q", msg)
	}
}

func TestBadNames(t *testing.T) {
	n := dataDirNode(t)
	mnt := t.TempDir()
	startMount(t, mnt, n.args...)
	for _, name := range []string{"not-a-multihash", "..", "...", "%2e%2e", "a\x01b", "\t", "ciq" + strings.Repeat("a", 200), "QmNOTBASE58!!", "bafybad", "zz"} {
		var st unix.Stat_t
		err := unix.Stat(filepath.Join(mnt, "blobs", name), &st)
		if name == ".." {
			continue // the kernel resolves it to the root
		}
		if !errors.Is(err, syscall.ENOENT) {
			t.Errorf("stat blobs/%q: %v, want ENOENT", name, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(mnt, "blobs", strings.Repeat("b", 300)), &st); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("300-byte name: %v, want ENOENT", err)
	}
	for _, rel := range []string{"receipts/../../etc", "allocations/x/y.json", "receipts/nonsense.json", "receipts/by-ran/nonsense", "consolidations/.json"} {
		if err := unix.Stat(filepath.Join(mnt, rel), &st); err == nil {
			t.Errorf("stat %s succeeded", rel)
		}
	}
	// still serving
	if out := run(t, "cat", filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")); out != "hello world" {
		t.Fatal("daemon stopped serving after bad names")
	}
}

func TestCorruptDataThroughTheBinary(t *testing.T) {
	n := dataDirNode(t)
	dir := n.args[1]
	ctx := context.Background()
	st, err := node.Open(ctx, node.Config{DataDir: dir, Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	bad := n.set.Receipts[0].CID.String()
	st.Receipts.PutRaw(ctx, bad, n.set.Receipts[0].CID.Bytes()) // truncated nonsense
	st.Close()
	// flip one byte of a blob on disk
	victim := "ciqnm5m4exqihiysyohgpw5xbipfux6arkf624qgren2iyeioxhjtai"
	path := filepath.Join(node.BlobDir(dir), "ta", victim+".data")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[1000] ^= 0x40
	os.WriteFile(path, data, 0o644)

	mnt := t.TempDir()
	d := startMount(t, mnt, "--verify", "--data-dir", dir)
	if msg := fails(t, "cat", filepath.Join(mnt, "receipts", bad+".json")); !strings.Contains(msg, "Input/output error") {
		t.Errorf("corrupt receipt: %q", msg)
	}
	good := n.set.Receipts[1].CID.String()
	run(t, "cat", filepath.Join(mnt, "receipts", good+".json"))
	if msg := fails(t, "sha256sum", filepath.Join(mnt, "blobs", victim)); !strings.Contains(msg, "Input/output error") {
		t.Errorf("verified read of a flipped byte: %q", msg)
	}
	run(t, "cat", filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i"))
	d.stop(syscall.SIGTERM, 5*time.Second)
	for _, want := range []string{bad, "undecodable record", victim, "verify failed"} {
		if !strings.Contains(d.log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, d.log)
		}
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "blob", "verify", "--data-dir", dir)
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), victim) {
		t.Errorf("blob verify: %v, %q", err, stderr.String())
	}
}

// TestOtherUsers: without allow_other another user cannot read the mount;
// with it they can.
func TestOtherUsers(t *testing.T) {
	needTool(t, "setpriv")
	n := dataDirNode(t)
	for _, allow := range []bool{false, true} {
		mnt := t.TempDir()
		for dir := mnt; dir != os.TempDir(); dir = filepath.Dir(dir) {
			os.Chmod(dir, 0o755) // so that only the mount decides
		}
		args := n.args
		if allow {
			args = append([]string{"-o", "allow_other"}, args...)
		}
		d := startMount(t, mnt, args...)
		out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat",
			filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")).CombinedOutput()
		if allow && (err != nil || string(out) != "hello world") {
			t.Errorf("with allow_other, nobody could not read: %v %s", err, out)
		}
		if !allow && (err == nil || !strings.Contains(string(out), "Permission denied")) {
			t.Errorf("without allow_other, nobody read the mount: %v %s", err, out)
		}
		d.stop(syscall.SIGTERM, 5*time.Second)
	}
}
