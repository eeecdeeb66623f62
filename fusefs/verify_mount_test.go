package fusefs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/helpers/metrics"
	"github.com/storacha/storefs/internal/testsupport/fusetest"
	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/objectstore/flatfs"
)

// verifyReps is how many fresh mounts each size × backend × reader gets.
const verifyReps = 20

// intactReps is how many of them also read an intact blob of the size
// whole (an intact read cannot fail by chance: fewer suffice).
const intactReps = 3

// TestVerifyCorruptBlobs: under --verify, whoever reads a corrupt blob
// whole gets EIO, whatever order the kernel's READs come in, every time,
// on a fresh mount each time; an intact blob always reads.
func TestVerifyCorruptBlobs(t *testing.T) {
	fusetest.Require(t)
	sizes := []int{1 << 20, 16 << 20, 256 << 20}
	if testing.Short() {
		sizes = sizes[:2]
	}
	for _, backend := range []string{"datadir", "s3"} {
		t.Run(backend, func(t *testing.T) {
			blobs := corruptBlobs(t, sizes)
			stores := rawStores(t, backend, blobs)
			for _, b := range blobs {
				for _, r := range verifyReaders {
					t.Run(fmt.Sprintf("%dMiB/%s", len(b.data)>>20, r.name), func(t *testing.T) {
						for rep := range verifyReps {
							root := newRoot(t, fusefs.Stores{Blobs: stores.Blobs}, fusefs.Config{Verify: true, Log: quietLog()})
							dir, unmount := mountFresh(t, root)
							err := r.read(filepath.Join(dir, "blobs", blobstore.Name(b.digest)), nil)
							if !errors.Is(err, syscall.EIO) {
								t.Fatalf("rep %d: %s of a blob with a byte flipped at %d: %v, want EIO", rep, r.name, b.flipped, err)
							}
							if rep < intactReps {
								want := sha256.Sum256(b.data)
								if err := r.read(filepath.Join(dir, "blobs", blobstore.Name(b.intact)), want[:]); err != nil {
									t.Fatalf("rep %d: %s of an intact blob: %v", rep, r.name, err)
								}
							}
							unmount()
						}
					})
				}
			}
		})
	}
}

// A blob read in part is served unverified, and counted.
func TestVerifyCountsUnverifiedReads(t *testing.T) {
	fusetest.Require(t)
	blobs := corruptBlobs(t, []int{4 << 20})
	stores := rawStores(t, "datadir", blobs)
	m := metrics.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := m.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := mountRoot(t, newRoot(t, fusefs.Stores{Blobs: stores.Blobs}, fusefs.Config{Verify: true, Log: quietLog(), Metrics: m}))
	f, err := os.Open(filepath.Join(dir, "blobs", blobstore.Name(blobs[0].digest)))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	if _, err := f.ReadAt(buf, 1<<20); err != nil {
		t.Fatalf("a partial read of a corrupt blob: %v (it cannot be verified, so it is served)", err)
	}
	f.Close()
	// The count lands when the last open file is released, which the
	// kernel sends after close returns.
	for deadline := time.Now().Add(10 * time.Second); unverifiedReads(t, addr.String()) == "0" && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := unverifiedReads(t, addr.String()); n == "0" {
		t.Error("a partial read under --verify was not counted in storefs_unverified_reads_total")
	}
}

type verifyBlob struct {
	data           []byte // intact bytes
	digest, intact mh.Multihash
	stored         []byte // what the corrupt blob's key holds
	flipped        int64
}

// corruptBlobs makes, per size, a corrupt blob (its digest names bytes
// other than those stored: one flipped at 5000, as reported, or
// anywhere) and an intact one.
func corruptBlobs(t *testing.T, sizes []int) []verifyBlob {
	var out []verifyBlob
	for i, size := range sizes {
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{byte(i), 7}).Read(data)
		d, _ := mh.Sum(data, mh.SHA2_256, -1)
		stored := bytes.Clone(data)
		flipped := int64(5000)
		if i%2 == 1 {
			flipped = int64(size) - 3
		}
		stored[flipped] ^= 0x01
		intactData := append(bytes.Clone(data[:size-1]), data[size-1]^0xff)
		intact, _ := mh.Sum(intactData, mh.SHA2_256, -1)
		out = append(out, verifyBlob{data: intactData, digest: d, intact: intact, stored: stored, flipped: flipped})
	}
	return out
}

// rawStores writes the blobs under their keys, bypassing the blob store's
// own check, and opens the backend read-only as a mount does.
func rawStores(t *testing.T, backend string, blobs []verifyBlob) *node.Stores {
	ctx := context.Background()
	var cfg node.Config
	switch backend {
	case "datadir":
		dir := t.TempDir()
		fs, err := flatfs.Open(node.BlobDir(dir), flatfs.Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blobs {
			for d, data := range map[string][]byte{string(b.digest): b.stored, string(b.intact): b.data} {
				if err := fs.Put(ctx, blobstore.FlatFS{}.Key(mh.Multihash(d)), int64(len(data)), bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				}
			}
		}
		cfg.DataDir = dir
	case "s3":
		srv := s3test.Start(t)
		srv.MakeBucket("vpdp")
		for _, b := range blobs {
			for d, data := range map[string][]byte{string(b.digest): b.stored, string(b.intact): b.data} {
				_, err := srv.Client().PutObject(ctx, "vpdp", blobstore.S3{}.Key(mh.Multihash(d)), bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableContentSha256: true})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		cfg.S3 = &node.S3{Endpoint: srv.Endpoint, BucketPrefix: "v", Insecure: true, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}
		cfg.Timeout = 10 * time.Second
	}
	st, err := node.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// A reader reads a whole file; with want set, its bytes must hash to it.
type verifyReader struct {
	name string
	read func(path string, want []byte) error
}

var verifyReaders = []verifyReader{
	{"cat", func(path string, want []byte) error { return tool(want, "cat", path) }},
	{"dd", func(path string, want []byte) error { return tool(want, "dd", "if="+path, "bs=1M", "status=none") }},
	{"cp", func(path string, want []byte) error {
		dst := filepath.Join(os.TempDir(), fmt.Sprintf("storefs-verify-cp-%d", os.Getpid()))
		defer os.Remove(dst)
		if err := tool(nil, "cp", path, dst); err != nil {
			return err
		}
		return tool(want, "cat", dst)
	}},
	{"mmap", readMmap},
	{"4 cats", func(path string, want []byte) error {
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { errs[i] = tool(want, "cat", path) })
		}
		wg.Wait()
		for _, err := range errs {
			if (want == nil) != (err != nil) {
				return err // one reader of a corrupt blob got its bytes
			}
		}
		return errs[0]
	}},
}

// tool runs a reader; its stdout must hash to want (when set). A failure
// that reports an I/O error is EIO.
func tool(want []byte, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	h := sha256.New()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = h, &stderr
	if err := cmd.Run(); err != nil {
		if strings.Contains(stderr.String(), "Input/output error") {
			return fmt.Errorf("%s: %w", name, syscall.EIO)
		}
		return fmt.Errorf("%s %v: %v: %s", name, args, err, stderr.String())
	}
	if want != nil && !bytes.Equal(h.Sum(nil), want) {
		return fmt.Errorf("%s: bytes differ from the blob's", name)
	}
	return nil
}

// readMmap maps the file and touches every page, as a program that mmaps
// a blob does; a page the mount refuses is a SIGBUS, here EIO. It runs in
// a child process: a thread of this one faulting on the mount it serves
// would stall the runtime's stop-the-world, and with it the mount.
func readMmap(path string, want []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), mmapReaderEnv+"="+path)
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == mmapFault:
		return fmt.Errorf("mmap: fault reading the mapping: %w", syscall.EIO)
	case err != nil:
		return fmt.Errorf("mmap reader: %v: %s", err, out)
	}
	if want != nil && strings.TrimSpace(string(out)) != fmt.Sprintf("%x", want) {
		return errors.New("mmap: bytes differ from the blob's")
	}
	return nil
}

// mmapReaderEnv makes the test binary the mmap reader of the file it names.
const mmapReaderEnv = "STOREFS_TEST_MMAP_READ"

// mmapFault is the reader's exit code for a page it could not read.
const mmapFault = 7

func TestMain(m *testing.M) {
	if path := os.Getenv(mmapReaderEnv); path != "" {
		os.Exit(mmapRead(path))
	}
	if dir := os.Getenv(pdpWriterEnv); dir != "" {
		os.Exit(pdpWrite(dir))
	}
	os.Exit(m.Run())
}

// mmapRead prints the sha256 of the mapped file, or exits mmapFault.
func mmapRead(path string) (code int) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fi, err := f.Stat()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	debug.SetPanicOnFault(true)
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintln(os.Stderr, p)
			code = mmapFault
		}
	}()
	h := sha256.New()
	h.Write(mem) // faults every page in, in order
	fmt.Printf("%x\n", h.Sum(nil))
	return 0
}

// quietLog drops the log: each corrupt read logs its verdict.
func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// unverifiedReads scrapes storefs_unverified_reads_total from m.
func unverifiedReads(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "storefs_unverified_reads_total "); ok {
			return v
		}
	}
	t.Fatalf("no storefs_unverified_reads_total in\n%s", b)
	return ""
}
