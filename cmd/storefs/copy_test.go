package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	leveldb "github.com/ipfs/go-ds-leveldb"

	"github.com/storacha/storefs/internal/testsupport/pirinode"
	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/internal/testsupport/treehash"
)

// sourceNode is a data dir written as Piri writes it, with a blob whose
// bytes rotted on disk.
func sourceNode(t *testing.T) (dir, rotten string) {
	dir = t.TempDir()
	w := pirinode.DataDir(t, dir)
	w.Clean()
	data := []byte("bytes that rot on disk")
	rotten = pirinode.B32(pirinode.Digest(data))
	w.BlobAt(rotten, []byte("bytes that rot on dusk"))
	w.Allocation(pirinode.Digest(data), 1, int64(len(data)), 1900000000)
	w.Acceptance(pirinode.Digest(data), 1, int64(len(data)), 1764000000)
	w.Close()
	return dir, rotten
}

// TestCopyDataDirs: a data dir to a new one. The rotten blob is named and
// not copied, nor its records (exit 1); everything else lands under
// Piri's keys; the keystore, the journal and nothing partial; a second
// run skips all; a dry run writes nothing.
func TestCopyDataDirs(t *testing.T) {
	src, rotten := sourceNode(t)
	os.MkdirAll(filepath.Join(src, "wallet"), 0o700)
	os.WriteFile(filepath.Join(src, "wallet", "identity"), []byte("secret key"), 0o600)
	before, err := treehash.Sum(src)
	must(t, err)
	dst := filepath.Join(t.TempDir(), "new")

	dry, _, code := storefs(t, "copy", "--dry-run", "--json", src, dst)
	if code != 0 || !strings.Contains(dry, `"dry_run":true`) {
		t.Fatalf("dry run: exit %d, %s", code, dry)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("a dry run made %s", dst)
	}

	out, stderr, code := storefs(t, "copy", "--json", src, dst)
	if code != 1 || !strings.Contains(stderr, rotten) || !strings.Contains(out, `"failed":3`) {
		// the blob, its allocation and its acceptance
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	if after, _ := treehash.Sum(src); after != before {
		t.Fatal("copy changed the source")
	}
	for _, p := range []string{"wallet", "egress_tracker"} {
		if _, err := os.Stat(filepath.Join(dst, p)); !os.IsNotExist(err) {
			t.Errorf("%s was copied", p)
		}
	}
	want := pirinode.Keys(t, src, nil, "")
	for k := range want {
		if strings.Contains(k, rotten) || strings.Contains(k, pirinode.B58(mustName(t, rotten))) {
			delete(want, k)
		}
	}
	got := pirinode.Keys(t, dst, nil, "")
	if !maps.Equal(got, want) {
		t.Fatalf("destination keys:\n  %s\nwant:\n  %s", strings.Join(slices.Sorted(maps.Keys(got)), "\n  "), strings.Join(slices.Sorted(maps.Keys(want)), "\n  "))
	}
	if m, _ := filepath.Glob(filepath.Join(dst, "pdp", "datastore", ".temp", "*")); len(m) != 0 {
		t.Errorf("partial files left: %v", m)
	}
	for _, f := range []string{"SHARDING", "_README"} {
		if _, err := os.Stat(filepath.Join(dst, "pdp", "datastore", f)); err != nil {
			t.Errorf("flatfs %s: %v", f, err)
		}
	}

	again, _, code := storefs(t, "copy", "--json", src, dst)
	if code != 1 || !strings.Contains(again, `"copied":0`) {
		t.Fatalf("second run: exit %d, %s", code, again)
	}
}

func mustName(t *testing.T, name string) []byte {
	d, err := parseName(name)
	must(t, err)
	return d
}

// TestCopyConflicts: a destination record with other bytes is left alone
// and reported (exit 1); --overwrite replaces it.
func TestCopyConflicts(t *testing.T) {
	src := t.TempDir()
	w := pirinode.DataDir(t, src)
	w.Clean()
	w.Close()
	dst := t.TempDir()
	w = pirinode.DataDir(t, dst)
	w.Claim([]byte("other bytes under the delegation's key"))
	w.Close()
	_, stderr, code := storefs(t, "copy", src, dst)
	if code != 1 || !strings.Contains(stderr, "left alone") || !strings.Contains(stderr, pirinode.Delegation.CID) {
		t.Fatalf("conflict: exit %d, %s", code, stderr)
	}
	if _, stderr, code := storefs(t, "copy", "--overwrite", src, dst); code != 0 {
		t.Fatalf("--overwrite: exit %d, %s", code, stderr)
	}
	if got, want := pirinode.Keys(t, dst, nil, ""), pirinode.Keys(t, src, nil, ""); !maps.Equal(got, want) {
		t.Fatalf("after --overwrite the stores differ")
	}
}

func TestCopyUsage(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range [][]string{{dir}, {dir, dir}, {"--only", "wallet", dir, dir + "2"}, {"--jobs", "0", dir, dir + "2"},
		{"--bwlimit", "x", dir, dir + "2"}, {"s3://prefix@", dir}, {dir, dir + "2", "--json"}} {
		if _, stderr, code := storefs(t, append([]string{"copy"}, bad...)...); code != 2 {
			t.Errorf("copy %v: exit %d, %s", bad, code, stderr)
		}
	}
}

// TestCopyS3 (system tier): a data dir to S3 and S3 to S3 under another
// prefix. The buckets are made and hold exactly Piri v0.2.4's keys; a
// v0.2.3 bare key is written under its v0.2.4 key; credentials never
// show, also when they are refused.
func TestCopyS3(t *testing.T) {
	srv := s3test.Start(t)
	src := t.TempDir()
	w := pirinode.DataDir(t, src)
	w.Clean()
	w.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	out, stderr, code := storefs(t, "copy", "--s3-insecure", src, "s3://a-@"+srv.Endpoint)
	if code != 0 || strings.Contains(out+stderr, s3test.SecretKey) {
		t.Fatalf("to S3: exit %d\n%s\n%s", code, out, stderr)
	}
	got := pirinode.Keys(t, "", srv.Client(), "a-")
	want := map[string]string{}
	for k, v := range pirinode.Keys(t, src, nil, "") {
		want[s3Key(k)] = v
	}
	for k := range want {
		if strings.HasPrefix(k, "receipts receipts-ran/") {
			got[k] = want[k] // a CID string on S3, binary in LevelDB
		}
	}
	if !maps.Equal(got, want) {
		t.Fatalf("S3 keys:\n  %s\nwant:\n  %s", strings.Join(slices.Sorted(maps.Keys(got)), "\n  "), strings.Join(slices.Sorted(maps.Keys(want)), "\n  "))
	}

	// A v0.2.3 bare key, copied S3 to S3, lands under its v0.2.4 key.
	legacy := pirinode.S3(t, srv.Client(), "a-").LegacyBlob([]byte("stored by Piri v0.2.3"))
	if _, stderr, code := storefs(t, "copy", "--s3-insecure", "--only", "blobs", "s3://a-@"+srv.Endpoint, "s3://b-@"+srv.Endpoint); code != 0 {
		t.Fatalf("S3 to S3: exit %d, %s", code, stderr)
	}
	keys := pirinode.Keys(t, "", srv.Client(), "b-")
	if _, ok := keys["pdp "+pirinode.Shard(legacy)+"/"+legacy+".data"]; !ok {
		t.Fatalf("the legacy blob is not under its v0.2.4 key: %v", slices.Sorted(maps.Keys(keys)))
	}
	if _, ok := keys["pdp "+legacy]; ok {
		t.Fatal("a bare key was written")
	}

	// Two S3 sides, each by its own Piri config (and its own
	// credentials): the environment's are not needed.
	configs := map[string]string{}
	for _, prefix := range []string{"a-", "d-"} {
		f := filepath.Join(t.TempDir(), prefix+"config.toml")
		must(t, os.WriteFile(f, []byte(fmt.Sprintf("[repo]\ndata_dir = %q\n[repo.s3]\nendpoint = %q\nbucket_prefix = %q\ninsecure = true\n[repo.s3.credentials]\naccess_key_id = %q\nsecret_access_key = %q\n",
			t.TempDir(), srv.Endpoint, prefix, s3test.AccessKey, s3test.SecretKey)), 0o600))
		configs[prefix] = f
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if out, stderr, code := storefs(t, "copy", "--only", "records", configs["a-"], configs["d-"]); code != 1 || !strings.Contains(stderr, "its blob is not at the destination") {
		t.Fatalf("records before blobs: exit %d, %s %s", code, out, stderr)
	}
	if out, stderr, code := storefs(t, "copy", configs["a-"], configs["d-"]); code != 0 || strings.Contains(out+stderr, s3test.SecretKey) {
		t.Fatalf("config to config: exit %d, %s %s", code, out, stderr)
	}
	a, d := pirinode.Keys(t, "", srv.Client(), "a-"), pirinode.Keys(t, "", srv.Client(), "d-")
	delete(a, "pdp "+legacy) // the bare key: copied under its v0.2.4 key
	a["pdp "+pirinode.Shard(legacy)+"/"+legacy+".data"] = d["pdp "+pirinode.Shard(legacy)+"/"+legacy+".data"]
	if !maps.Equal(a, d) {
		t.Fatalf("S3 to S3: the buckets differ:\n%v\n%v", slices.Sorted(maps.Keys(a)), slices.Sorted(maps.Keys(d)))
	}

	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "a-wrong-secret-never-shown")
	out, stderr, code = storefs(t, "copy", "--s3-insecure", src, "s3://c-@"+srv.Endpoint)
	if code != 1 || strings.Contains(out+stderr, "a-wrong-secret-never-shown") || strings.Contains(out+stderr, s3test.AccessKey) || !strings.Contains(stderr, "access denied") {
		t.Fatalf("refused credentials: exit %d\n%s\n%s", code, out, stderr)
	}
}

// s3Key is where Piri v0.2.4 keeps on S3 what a data dir keeps under a
// pirinode.Keys key.
func s3Key(k string) string {
	store, key, _ := strings.Cut(k, " ")
	key = strings.TrimPrefix(key, "/")
	switch store {
	case pirinode.Allocations:
		return "allocations " + key + ".cbor"
	case pirinode.Acceptances:
		return "acceptances " + key + ".cbor"
	case pirinode.Claims:
		return "claims " + key
	case pirinode.Receipts:
		if ran, ok := strings.CutPrefix(key, "ranLinkIndex/"); ok {
			return "receipts receipts-ran/" + ran + ".ref"
		}
		return "receipts " + strings.TrimPrefix(key, "receipts/")
	case pirinode.Consolidation:
		return "consolidation " + key + ".cbor"
	}
	return k
}

// TestCopyFromARunningNode: a running node holds its LevelDB locks, so
// its records cannot be read: copy says so and names the way out, and
// --only blobs copies the blobs, which are immutable files.
func TestCopyFromARunningNode(t *testing.T) {
	src := t.TempDir()
	w := pirinode.DataDir(t, src)
	w.Clean()
	w.Close()
	held, err := leveldb.NewDatastore(filepath.Join(src, pirinode.Receipts), nil)
	must(t, err)
	defer held.Close()
	dst := t.TempDir()
	_, stderr, code := storefs(t, "copy", src, dst)
	if code != 1 || !strings.Contains(stderr, "--only blobs") || !strings.Contains(stderr, "cp -a") {
		t.Fatalf("records of a running node: exit %d, %s", code, stderr)
	}
	out, stderr, code := storefs(t, "copy", "--only", "blobs", "--json", src, dst)
	if code != 0 || !strings.Contains(out, `"copied":4`) {
		t.Fatalf("--only blobs: exit %d, %s %s", code, out, stderr)
	}
}

// TestCopyVerifyExisting: a destination blob with rotten bytes of the
// right size is skipped by a plain run and copied again by
// --verify-existing.
func TestCopyVerifyExisting(t *testing.T) {
	src := t.TempDir()
	w := pirinode.DataDir(t, src)
	name := w.Stored([]byte("a blob that rots at the destination"), 1)
	w.Close()
	dst := t.TempDir()
	if _, stderr, code := storefs(t, "copy", src, dst); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	path := filepath.Join(dst, "pdp", "datastore", pirinode.Shard(name), name+".data")
	must(t, os.WriteFile(path, []byte("a blob that rots at the desTination"), 0o644))
	if out, _, code := storefs(t, "copy", "--json", src, dst); code != 0 || !strings.Contains(out, `"copied":0`) {
		t.Fatalf("a plain rerun: exit %d, %s", code, out)
	}
	if out, _, code := storefs(t, "copy", "--json", "--verify-existing", src, dst); code != 0 || !strings.Contains(out, `"copied":1,`) {
		t.Fatalf("--verify-existing: exit %d, %s", code, out)
	}
	if got, _ := os.ReadFile(path); string(got) != "a blob that rots at the destination" {
		t.Fatalf("the blob is still %q", got)
	}
}

// TestCopyUndecodable: a record that does not decode is still copied
// under its key, byte for byte, with a warning; warnings alone exit 0.
func TestCopyUndecodable(t *testing.T) {
	src := t.TempDir()
	w := pirinode.DataDir(t, src)
	w.Clean()
	w.Claim([]byte("not a CAR")) // over the delegation
	w.Close()
	dst := t.TempDir()
	out, stderr, code := storefs(t, "copy", "--json", src, dst)
	if code != 0 || !strings.Contains(out, `"warnings":1`) || !strings.Contains(stderr, "does not decode") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if got, want := pirinode.Keys(t, dst, nil, ""), pirinode.Keys(t, src, nil, ""); !maps.Equal(got, want) {
		t.Fatal("the stores differ")
	}
}
