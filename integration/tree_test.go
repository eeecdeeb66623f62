package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/internal/testsupport/treehash"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
)

// testNode is a backend with the sample written into it.
type testNode struct {
	args   []string     // backend flags for storefs
	stores *node.Stores // a read-only view, for the stored bytes
	set    *sample.Set
	tree   func() string // fingerprint of everything the backend holds
	secret []byte        // what must never show
	reopen func() *node.Stores
}

func dataDirNode(t *testing.T) *testNode {
	dir := t.TempDir()
	set, err := sample.Populate(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{args: []string{"--data-dir", dir}, set: set, secret: set.NodeKey.Seed(),
		tree: func() string { s, _ := treehash.Sum(dir); return s }}
	n.openReadOnly(t, node.Config{DataDir: dir})
	return n
}

func s3Node(t *testing.T, srv *s3test.Server) *testNode {
	set, err := sample.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{S3: &node.S3{Endpoint: srv.Endpoint, BucketPrefix: "node1-", Insecure: true,
		AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}}
	w := cfg
	w.Writable = true
	st, err := node.Open(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Write(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	n := &testNode{args: []string{"--s3-endpoint", srv.Endpoint, "--s3-insecure", "--s3-bucket-prefix", "node1-", "--timeout", "3s"},
		set: set, secret: []byte(s3test.SecretKey),
		tree: func() string { s, _ := treehash.Sum(srv.DataDir); return s }}
	n.openReadOnly(t, cfg)
	return n
}

func (n *testNode) openReadOnly(t *testing.T, cfg node.Config) {
	// LevelDB allows one process: the read-only view opens after the
	// daemon is gone, when it is needed.
	n.stores = nil
	n.reopen = func() *node.Stores {
		st, err := node.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

func TestDataDirMount(t *testing.T) { testMount(t, dataDirNode(t)) }

func TestS3Mount(t *testing.T) { testMount(t, s3Node(t, s3test.Start(t))) }

func testMount(t *testing.T, n *testNode) {
	before := n.tree()
	mnt := t.TempDir()
	d := startMount(t, mnt, append(n.args, "--debug")...)
	var printed strings.Builder

	// ls and ls -l: every blob with its exact size.
	var want []string
	for digest := range n.set.Blobs {
		want = append(want, blobstore.Name(mh.Multihash(digest)))
	}
	slices.Sort(want)
	got := strings.Fields(run(t, "ls", filepath.Join(mnt, "blobs")))
	if !slices.Equal(got, want) {
		t.Fatalf("ls blobs: %v, want %v", got, want)
	}
	long := run(t, "ls", "-l", filepath.Join(mnt, "blobs"))
	printed.WriteString(long)
	for _, line := range strings.Split(strings.TrimSpace(long), "\n")[1:] {
		f := strings.Fields(line)
		name, size := f[len(f)-1], f[4]
		digest, _ := blobstore.ParseName(name)
		if size != strconv.Itoa(len(n.set.Blobs[string(digest)])) || !strings.HasPrefix(f[0], "-r--r--r--") {
			t.Errorf("ls -l line %q: want size %d", line, len(n.set.Blobs[string(digest)]))
		}
	}

	for digest, data := range n.set.Blobs {
		d := mh.Multihash(digest)
		path := filepath.Join(mnt, "blobs", blobstore.Name(d))
		sum := sha256.Sum256(data)
		if out := run(t, "sha256sum", path); !strings.HasPrefix(out, hex.EncodeToString(sum[:])) {
			t.Errorf("sha256sum %s: %s", path, out)
		}
		if st := run(t, "stat", "-c", "%s %h %a", path); st != fmt.Sprintf("%d 1 444\n", len(data)) {
			t.Errorf("stat %s: %q", path, st)
		}
		if len(data) >= 3*4096 {
			out, err := exec.Command("dd", "if="+path, "bs=4k", "skip=2", "count=1", "status=none").Output()
			if err != nil || !bytes.Equal(out, data[8192:12288]) {
				t.Errorf("dd skip=2 of %s: %d bytes, %v", path, len(out), err)
			}
		}
		for _, alias := range []string{cid.NewCidV1(cid.Raw, d).String(), "z" + blobstore.Base58(d), strings.ToUpper(blobstore.Name(d))} {
			if out := run(t, "cat", filepath.Join(mnt, "blobs", alias)); out != string(data) {
				t.Errorf("cat alias %s: %d bytes", alias, len(out))
			}
		}
		attrs := run(t, "getfattr", "-d", path)
		printed.WriteString(attrs)
		for _, w := range []string{`user.storefs.cid="` + cid.NewCidV1(cid.Raw, d).String() + `"`, `user.storefs.multihash="z` + blobstore.Base58(d) + `"`, "user.storefs.key="} {
			if !strings.Contains(attrs, w) {
				t.Errorf("getfattr -d %s: no %s in\n%s", path, w, attrs)
			}
		}
	}

	// Records: every .json parses and matches the record; the stored-bytes
	// files are compared once the daemon is gone (LevelDB is single-process).
	jsonFiles := map[string][]byte{}
	rawFiles := map[string][]byte{}
	for _, a := range n.set.Allocations {
		js, _ := a.JSON()
		jsonFiles["allocations/"+a.ID()+".json"] = js
		rawFiles["allocations/"+a.ID()+".cbor"] = nil
	}
	for _, a := range n.set.Acceptances {
		js, _ := a.JSON()
		jsonFiles["acceptances/"+a.ID()+".json"] = js
		rawFiles["acceptances/"+a.ID()+".cbor"] = nil
	}
	for _, c := range n.set.Consolidations {
		js, _ := c.JSON()
		jsonFiles["consolidations/"+c.Batch.String()+".json"] = js
		rawFiles["consolidations/"+c.Batch.String()+".cbor"] = nil
	}
	for _, dl := range n.set.Delegations {
		js, _ := dl.JSON()
		jsonFiles["delegations/"+dl.CID.String()+".json"] = js
		rawFiles["delegations/"+dl.CID.String()+".car"] = nil
	}
	for _, r := range n.set.Receipts {
		js, _ := r.JSON()
		jsonFiles["receipts/"+r.CID.String()+".json"] = js
		rawFiles["receipts/"+r.CID.String()+".car"] = nil
		if link := run(t, "readlink", filepath.Join(mnt, "receipts", "by-ran", r.Ran.String())); link != "../"+r.CID.String()+".json\n" {
			t.Errorf("readlink by-ran/%s: %q", r.Ran, link)
		}
	}
	for rel, want := range jsonFiles {
		got := run(t, "cat", filepath.Join(mnt, rel))
		printed.WriteString(got)
		var v any
		if err := json.Unmarshal([]byte(got), &v); err != nil || got != string(want) {
			t.Errorf("%s: %v\n%s", rel, err, got)
		}
		if size := run(t, "stat", "-c", "%s", filepath.Join(mnt, rel)); size != strconv.Itoa(len(want))+"\n" {
			t.Errorf("stat %s: size %s, content %d bytes", rel, size, len(want))
		}
	}
	for rel := range rawFiles {
		rawFiles[rel] = []byte(run(t, "cat", filepath.Join(mnt, rel)))
	}
	for _, dir := range []string{"allocations", "acceptances", "consolidations", "delegations", "receipts", "receipts/by-ran"} {
		printed.WriteString(run(t, "ls", "-lR", filepath.Join(mnt, dir)))
	}

	// Writes answer EROFS; nonsense names ENOENT; the daemon keeps serving.
	for _, args := range [][]string{
		{"touch", filepath.Join(mnt, "blobs", "new")},
		{"mkdir", filepath.Join(mnt, "x")},
		{"rm", "-f", filepath.Join(mnt, "blobs", want[0])},
		{"sh", "-c", "echo x >> " + filepath.Join(mnt, "blobs", want[0])},
	} {
		if msg := fails(t, args[0], args[1:]...); !strings.Contains(msg, "Read-only file system") {
			t.Errorf("%v: %q, want EROFS", args, msg)
		}
	}
	for _, name := range []string{"not-a-multihash", "..%2f..%2fkeystore", strings.Repeat("z", 250), "bafy", "ciq"} {
		if msg := fails(t, "stat", filepath.Join(mnt, "blobs", name)); !strings.Contains(msg, "No such file") {
			t.Errorf("stat blobs/%s: %q", name, msg)
		}
	}
	if msg := fails(t, "ls", filepath.Join(mnt, "wallet")); !strings.Contains(msg, "No such file") {
		t.Errorf("the keystore (wallet) is visible: %q", msg)
	}
	run(t, "ls", filepath.Join(mnt, "blobs"))

	// SIGTERM: a clean exit, and the mountpoint is gone within 5 s.
	if err := d.stop(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, d.log)
	}
	if mounted(mnt) {
		t.Error("still mounted after SIGTERM")
	}

	// Stored-bytes files are byte-identical to what the backend holds.
	st := n.reopen()
	for rel, got := range rawFiles {
		kind, name, _ := strings.Cut(rel, "/")
		id := strings.TrimSuffix(strings.TrimSuffix(name, ".cbor"), ".car")
		if kind == "allocations" || kind == "acceptances" {
			id = name[:strings.LastIndex(name, ".")]
		}
		var stored []byte
		var err error
		switch kind {
		case "allocations":
			stored, err = st.Allocations.Raw(context.Background(), id)
		case "acceptances":
			stored, err = st.Acceptances.Raw(context.Background(), id)
		case "consolidations":
			stored, err = st.Consolidations.Raw(context.Background(), id)
		case "delegations":
			stored, err = st.Delegations.Raw(context.Background(), id)
		case "receipts":
			stored, err = st.Receipts.Raw(context.Background(), id)
		}
		if err != nil || !bytes.Equal(got, stored) {
			t.Errorf("%s: %d bytes, stored %d (%v)", rel, len(got), len(stored), err)
		}
	}

	// Nothing secret in any file, listing, xattr or log line.
	printed.WriteString(d.log.String())
	for _, form := range []string{string(n.secret), hex.EncodeToString(n.secret)} {
		if strings.Contains(printed.String(), form) {
			t.Fatal("a secret appeared in the mount or the log")
		}
	}
	if after := n.tree(); after != before {
		t.Fatal("the backend changed during a session of use")
	}
}

func TestKill9ThenRemount(t *testing.T) {
	n := dataDirNode(t)
	mnt := t.TempDir()
	d := startMount(t, mnt, n.args...)
	run(t, "ls", filepath.Join(mnt, "blobs"))
	d.stop(syscall.SIGKILL, 5*time.Second)
	if msg := fails(t, "ls", mnt); !strings.Contains(msg, "Transport endpoint is not connected") {
		t.Fatalf("after kill -9: %q", msg)
	}
	d2 := startMount(t, mnt, n.args...)
	if out := run(t, "cat", filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")); out != "hello world" {
		t.Fatalf("after remount: %q", out)
	}
	if !strings.Contains(d2.log.String(), "stale mount") {
		t.Errorf("the stale mount was not reported:\n%s", d2.log)
	}
}

func TestMemoryMount(t *testing.T) {
	mnt := t.TempDir()
	startMount(t, mnt, "--memory")
	// No journal in memory: no /egress.
	if out := run(t, "ls", mnt); strings.Join(strings.Fields(out), " ") != "acceptances allocations blobs cars consolidations content delegations receipts spaces" {
		t.Fatalf("ls of an empty memory mount: %q", out)
	}
	if out := run(t, "ls", "-A", filepath.Join(mnt, "blobs")); out != "" {
		t.Fatalf("memory blobs: %q", out)
	}
}

func TestUnmountCommand(t *testing.T) {
	n := dataDirNode(t)
	mnt := t.TempDir()
	d := startMount(t, mnt, n.args...)
	// A file held open keeps the mount, past the retries, with a message
	// that says what to do.
	f, err := os.Open(filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i"))
	if err != nil {
		t.Fatal(err)
	}
	if msg := fails(t, bin, "unmount", mnt); !strings.Contains(msg, "files are open there") || !mounted(mnt) {
		t.Errorf("unmount with a file open: %q, mounted %v", msg, mounted(mnt))
	}
	f.Close()
	// Right after the close the kernel may still hold the mount: the
	// command waits that out.
	run(t, bin, "unmount", mnt)
	select {
	case err := <-d.exited:
		d.done = true
		if err != nil {
			t.Errorf("daemon exit after unmount: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("daemon still running 5s after storefs unmount")
	}
	if msg := fails(t, bin, "unmount", mnt); !strings.Contains(msg, "not mounted") {
		t.Errorf("second unmount: %q", msg)
	}
}

// TestMountHelper mounts through mount(8) and mount.fuse3, which run
// `storefs SOURCE MOUNTPOINT -o OPTS` and wait for it to return once the
// mount answers.
func TestMountHelper(t *testing.T) {
	needTool(t, "mount.fuse3")
	n := dataDirNode(t)
	mnt := t.TempDir()
	dataDir := n.args[1]
	start := time.Now()
	out, err := exec.Command("mount", "-t", "fuse", bin+"#"+dataDir, mnt, "-o", "ro,allow_other").CombinedOutput()
	if err != nil {
		t.Fatalf("mount: %v: %s", err, out)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	// mount(8) returned: the mount must answer already, no polling.
	if !mounted(mnt) {
		t.Fatal("mount returned before the filesystem answered")
	}
	t.Logf("mount(8) returned after %v", time.Since(start))
	if got := run(t, "cat", filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")); got != "hello world" {
		t.Fatalf("cat: %q", got)
	}
	if !strings.Contains(run(t, "findmnt", "-n", "-o", "OPTIONS", mnt), "allow_other") {
		t.Error("allow_other not applied")
	}
	run(t, "umount", mnt)
	if mounted(mnt) {
		t.Fatal("still mounted after umount")
	}
	// A bad option fails the mount with a clear message and leaves nothing.
	out, err = exec.Command("mount", "-t", "fuse", bin+"#"+dataDir, mnt, "-o", "ro,bogus_option").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "bogus_option") || mounted(mnt) {
		t.Fatalf("mount with a bad option: %v: %s", err, out)
	}
}

// TestRegionFromServer mounts a node on an S3 server in eu-central-1
// without naming a region: storefs asks the server.
func TestRegionFromServer(t *testing.T) {
	n := s3Node(t, s3test.Start(t, s3test.WithRegion("eu-central-1")))
	mnt := t.TempDir()
	startMount(t, mnt, n.args...)
	if out := run(t, "cat", filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")); out != "hello world" {
		t.Fatalf("cat: %q", out)
	}
}
