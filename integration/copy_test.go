package integration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/storacha/storefs/internal/testsupport/pirinode"
	"github.com/storacha/storefs/internal/testsupport/s3test"
)

// copyCmd runs storefs copy with the test server's credentials.
func copyCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"copy", "--s3-insecure"}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.SecretKey)
	return cmd
}

// mountedContent fingerprints what a mount shows of a node's store
// (paths, file contents, link targets; not times): /egress is left out,
// the journal being local to a node and never copied.
func mountedContent(t *testing.T, mnt string) map[string]string {
	out := map[string]string{}
	err := filepath.WalkDir(mnt, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(mnt, path)
		if rel == "egress" {
			return filepath.SkipDir
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			out[rel] = "-> " + target
			return err
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			out[rel] = fmt.Sprintf("%x", sha256.Sum256(data))
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCopyRoundTrip: a data dir written as Piri writes it (with an
// allocation keyed by its cause and a consolidation in the old split
// form) goes to S3 and back to a new data dir. Both data dirs mount
// byte-identical; the buckets and the new data dir hold exactly Piri
// v0.2.4's keys, read back by a reader that shares no code with storefs.
func TestCopyRoundTrip(t *testing.T) {
	srv := s3test.Start(t)
	src := t.TempDir()
	w := pirinode.DataDir(t, src)
	w.Clean()
	old := []byte("allocated by Piri v0.0.13")
	w.Blob(old)
	w.CauseAllocation(pirinode.Digest(old), 1, int64(len(old)), pirinode.Cause("blob/allocate v0.0.13"))
	w.Acceptance(pirinode.Digest(old), 1, int64(len(old)), 1764000000)
	batch := pirinode.Cause("an egress batch")
	w.SplitConsolidation(batch, pirinode.Cause("space/egress/consolidate"))
	w.Close()

	s3 := "s3://node-@" + srv.Endpoint
	if out, err := copyCmd(src, s3).CombinedOutput(); err != nil {
		t.Fatalf("data dir to S3: %v\n%s", err, out)
	}
	keys := pirinode.Keys(t, "", srv.Client(), "node-")
	if _, ok := keys["consolidation "+batch.String()+".cbor"]; !ok {
		t.Errorf("the split consolidation is not one record on S3: %v", slices.Sorted(maps.Keys(keys)))
	}
	back := filepath.Join(t.TempDir(), "restored")
	if out, err := copyCmd(s3, back).CombinedOutput(); err != nil {
		t.Fatalf("S3 to a data dir: %v\n%s", err, out)
	}
	want := pirinode.Keys(t, src, nil, "")
	got := pirinode.Keys(t, back, nil, "")
	if _, ok := got["consolidation /"+batch.String()]; !ok {
		t.Errorf("the consolidation is not in consolidation/ of the new data dir")
	}
	delete(got, "consolidation /"+batch.String())
	if !maps.Equal(got, want) {
		t.Fatalf("restored keys:\n  %s\nwant:\n  %s", strings.Join(slices.Sorted(maps.Keys(got)), "\n  "), strings.Join(slices.Sorted(maps.Keys(want)), "\n  "))
	}

	a, b := t.TempDir(), t.TempDir()
	startMount(t, a, "--data-dir", src)
	startMount(t, b, "--data-dir", back)
	ca, cb := mountedContent(t, a), mountedContent(t, b)
	if !maps.Equal(ca, cb) || len(ca) < 30 {
		for k, v := range ca {
			if cb[k] != v {
				t.Errorf("%s: %s vs %s", k, v, cb[k])
			}
		}
		t.Fatalf("the two data dirs mount differently (%d vs %d files)", len(ca), len(cb))
	}

	// Done: a second run copies nothing.
	out, err := copyCmd("--json", src, s3).Output()
	if err != nil || !strings.Contains(string(out), `"copied":0`) {
		t.Fatalf("a second run: %v, %s", err, out)
	}
}

// TestCopyKill9: a copy killed in the middle of a large blob leaves no
// partial object where a reader looks; the same command then finishes,
// aborting the upload the killed run left.
func TestCopyKill9(t *testing.T) {
	srv := s3test.Start(t)
	src := t.TempDir()
	w := pirinode.DataDir(t, src)
	big := make([]byte, 64<<20)
	rand.Read(big)
	name := w.Stored(big, 1)
	w.Close()
	key := pirinode.Shard(name) + "/" + name + ".data"
	s3 := "s3://node-@" + srv.Endpoint
	client := srv.Client()
	ctx := context.Background()

	cmd := copyCmd("--bwlimit", "16M", src, s3)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	incomplete := func() int {
		n := 0
		for u := range client.ListIncompleteUploads(ctx, "node-pdp", key, false) {
			if u.Err == nil {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for incomplete() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no multipart upload began within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a part or two more
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	killed = true

	if _, err := client.StatObject(ctx, "node-pdp", key, minio.StatObjectOptions{}); err == nil {
		t.Fatal("the killed copy left the blob visible")
	}
	if n := incomplete(); n != 1 {
		t.Fatalf("%d incomplete uploads after the kill, want the one left", n)
	}
	time.Sleep(1100 * time.Millisecond) // the rerun's start falls in a later second than the upload's
	if out, err := copyCmd(src, s3).CombinedOutput(); err != nil {
		t.Fatalf("the rerun: %v\n%s", err, out)
	}
	obj, err := client.GetObject(ctx, "node-pdp", key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, obj); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%x", h.Sum(nil)) != fmt.Sprintf("%x", sha256.Sum256(big)) {
		t.Fatal("the blob's bytes differ after the rerun")
	}
	if n := incomplete(); n != 0 {
		t.Fatalf("%d incomplete uploads after the rerun", n)
	}
}
