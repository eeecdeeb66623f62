package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	leveldb "github.com/ipfs/go-ds-leveldb"

	"github.com/storacha/storefs/engine/check"
	"github.com/storacha/storefs/internal/testsupport/pirinode"
	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/internal/testsupport/treehash"
)

// checkJSON runs check --json and returns its findings by "name subject"
// and its summary line.
func checkJSON(t *testing.T, args ...string) (found []string, summary map[string]any, code int, stderr string) {
	t.Helper()
	out, stderr, code := storefs(t, append([]string{"check", "--json"}, args...)...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, line := range lines {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not JSON: %q", i+1, line)
		}
		if s, ok := m["summary"]; ok {
			if i != len(lines)-1 {
				t.Fatalf("the summary is line %d of %d", i+1, len(lines))
			}
			summary = s.(map[string]any)
			continue
		}
		name, _ := m["problem"].(string)
		if name == "" {
			name, _ = m["info"].(string)
		}
		subject, _ := m["blob"].(string)
		if subject == "" {
			subject = m["kind"].(string) + "/" + m["key"].(string)
		}
		found = append(found, name+" "+subject)
	}
	slices.Sort(found)
	return found, summary, code, stderr
}

// TestCheckDataDir: a node written as Piri writes it checks clean (exit
// 0); one problem of each kind a data dir can hold, planted, is found by
// name on what was planted (exit 1); and nothing in the data dir changes.
func TestCheckDataDir(t *testing.T) {
	dir := t.TempDir()
	w := pirinode.DataDir(t, dir)
	w.Clean()
	w.Close()
	backend := []string{"--data-dir", dir}

	found, summary, code, stderr := checkJSON(t, append([]string{"--verify"}, backend...)...)
	if code != 0 {
		t.Fatalf("a clean node: exit %d, %s\n%v", code, stderr, found)
	}
	if summary["blobs"].(float64) != 4 || summary["verified"].(float64) != 4 {
		t.Fatalf("summary %v", summary)
	}
	// The fixture batch is egress not yet paid for; the smelt wip is empty.
	if want := []string{"unconsolidated-batch egress/bagbaierahcvt3z72af26e4l4hlxfrdnpvlztoonha754areqp7agtsdqvvwq"}; !slices.Equal(found, want) {
		t.Fatalf("a clean node: %v", found)
	}
	out, _, code := storefs(t, append([]string{"check"}, backend...)...)
	if code != 0 || !strings.Contains(out, "no problems found") || !strings.Contains(out, "4 blobs") {
		t.Fatalf("human report, exit %d:\n%s", code, out)
	}

	w = pirinode.DataDir(t, dir)
	missing := []byte("accepted but never stored")
	w.Acceptance(pirinode.Digest(missing), 3, int64(len(missing)), 1764000000)
	sized := []byte("its records say another size")
	w.Blob(sized)
	w.Acceptance(pirinode.Digest(sized), 3, int64(len(sized))+10, 1764000000)
	rotten := []byte("bytes that rot on disk")
	rottenName := pirinode.B32(pirinode.Digest(rotten))
	w.BlobAt(rottenName, []byte("bytes that rot on dusk"))
	w.Acceptance(pirinode.Digest(rotten), 3, int64(len(rotten)), 1764000000)
	orphan := w.Blob([]byte("bytes nobody pays for"))
	ran := pirinode.Cause("an invocation whose receipt was lost").String()
	w.RanIndex(ran, pirinode.Cause("a receipt that was never stored").String())
	w.Claim([]byte("not a CAR"))
	pending := []byte("an upload under way")
	w.Allocation(pirinode.Digest(pending), 3, int64(len(pending)), 4000000000)
	expired := []byte("an upload that never came")
	w.Allocation(pirinode.Digest(expired), 3, int64(len(expired)), 1600000000)
	badBatch := "egress." + pirinode.Cause("a batch cut short").String() + ".car"
	w.Journal(map[string][]byte{badBatch: fixturePrefix(t, 100)})
	w.Close()
	before, err := treehash.Sum(dir)
	must(t, err)

	prom := filepath.Join(t.TempDir(), "storefs.prom")
	found, summary, code, _ = checkJSON(t, append([]string{"--verify", "--jobs", "3", "--prom", prom}, backend...)...)
	want := []string{
		"missing-blob " + pirinode.B32(pirinode.Digest(missing)),
		"size-mismatch " + pirinode.B32(pirinode.Digest(sized)),
		"hash-mismatch " + rottenName,
		"orphan-blob " + orphan,
		"dangling-index receipts/by-ran/" + ran,
		"undecodable-record delegations/" + pirinode.Delegation.CID,
		"undecodable-record egress/" + strings.TrimSuffix(strings.TrimPrefix(badBatch, "egress."), ".car"),
		"pending-allocation " + pirinode.B32(pirinode.Digest(pending)),
		"expired-allocation " + pirinode.B32(pirinode.Digest(expired)),
		"unconsolidated-batch egress/bagbaierahcvt3z72af26e4l4hlxfrdnpvlztoonha754areqp7agtsdqvvwq",
	}
	slices.Sort(want)
	if code != 1 || !slices.Equal(found, want) {
		t.Fatalf("exit %d, found:\n  %s\nwant:\n  %s", code, strings.Join(found, "\n  "), strings.Join(want, "\n  "))
	}
	problems := summary["problems"].(map[string]any)
	if problems["undecodable-record"].(float64) != 2 || problems["legacy-key"].(float64) != 0 {
		t.Fatalf("summary problems %v", problems)
	}
	text, err := os.ReadFile(prom)
	must(t, err)
	for _, line := range []string{
		`storefs_check_problems{problem="missing-blob"} 1`,
		`storefs_check_problems{problem="legacy-key"} 0`,
		`storefs_check_problems{problem="undecodable-record"} 2`,
		"storefs_check_blobs 7", "storefs_check_success 1", "storefs_check_timestamp_seconds ",
	} {
		if !strings.Contains(string(text), line) {
			t.Errorf("prom file lacks %q:\n%s", line, text)
		}
	}
	if after, _ := treehash.Sum(dir); after != before {
		t.Fatal("check changed the data dir")
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(prom), ".*")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}

	out, _, code = storefs(t, append([]string{"check"}, backend...)...)
	if code != 1 || !strings.Contains(out, "missing-blob           1") || !strings.Contains(out, orphan) {
		t.Fatalf("human report, exit %d:\n%s", code, out)
	}
	// Each problem found says what to do; one not found says nothing.
	if !strings.Contains(out, "what to do: "+check.TypeOf(check.MissingBlob).Fix) || strings.Contains(out, check.TypeOf(check.LegacyKey).Fix) {
		t.Fatalf("human report without the fixes of its problems, or with another's:\n%s", out)
	}

	// The node's own config names the same store.
	config := filepath.Join(t.TempDir(), "piri-config.toml")
	must(t, os.WriteFile(config, []byte("[repo]\ndata_dir = \""+dir+"\"\n"), 0o600))
	viaConfig, _, code, _ := checkJSON(t, "--verify", "--bwlimit", "1G", "--config", config)
	if code != 1 || !slices.Equal(viaConfig, want) {
		t.Fatalf("--config: exit %d, %v", code, viaConfig)
	}
}

// fixturePrefix is the journal batch fixture cut after n bytes: a batch
// whose last section is torn.
func fixturePrefix(t *testing.T, n int) []byte {
	dir := t.TempDir()
	w := pirinode.DataDir(t, dir)
	w.Journal(nil)
	w.Close()
	data, err := os.ReadFile(filepath.Join(dir, "egress_tracker", "journal", pirinode.JournalBatch))
	must(t, err)
	return data[:n]
}

// TestCheckCannotComplete: a LevelDB a running node holds, and an S3
// server that does not answer, exit 3 with no summary line and a prom
// file that says so; no store named at all is a usage error.
func TestCheckCannotComplete(t *testing.T) {
	dir := t.TempDir()
	w := pirinode.DataDir(t, dir)
	w.Clean()
	w.Close()
	held, err := leveldb.NewDatastore(filepath.Join(dir, pirinode.Acceptances), nil)
	must(t, err)
	defer held.Close()
	prom := filepath.Join(t.TempDir(), "check.prom")
	out, stderr, code := storefs(t, "check", "--json", "--prom", prom, "--data-dir", dir)
	if code != 3 || out != "" || !strings.Contains(stderr, "cp -a "+dir) || !strings.Contains(stderr, "check --data-dir") {
		t.Fatalf("locked: exit %d, stdout %q, stderr %s", code, out, stderr)
	}
	text, err := os.ReadFile(prom)
	must(t, err)
	if !bytes.Contains(text, []byte("storefs_check_success 0")) {
		t.Fatalf("prom: %s", text)
	}

	t.Setenv("AWS_ACCESS_KEY_ID", "id")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "a-secret-never-shown")
	out, stderr, code = storefs(t, "check", "--json", "--timeout", "2s", "--s3-endpoint", "127.0.0.1:1", "--s3-insecure", "--s3-bucket-prefix", "n")
	if code != 3 || out != "" || strings.Contains(stderr, "a-secret-never-shown") {
		t.Fatalf("unreachable: exit %d, stdout %q, stderr %s", code, out, stderr)
	}

	t.Setenv("HOME", t.TempDir())
	t.Chdir(t.TempDir())
	if _, stderr, code := storefs(t, "check"); code != 2 || !strings.Contains(stderr, "name the store") {
		if _, err := os.Stat("/opt/piri/etc/piri-config.toml"); err != nil {
			t.Fatalf("no store named: exit %d, %s", code, stderr)
		}
	}
	for _, bad := range [][]string{{"--jobs", "0"}, {"--bwlimit", "fast", "--verify"}, {"--bwlimit", "1M"}, {"--prom", "/no/such/dir/x.prom"}} {
		if _, stderr, code := storefs(t, append(append([]string{"check"}, bad...), "--data-dir", dir)...); code != 2 {
			t.Errorf("%v: exit %d, %s", bad, code, stderr)
		}
	}
}

// TestCheckS3: Piri's buckets checked live: a blob only under the bare
// v0.2.3 key is legacy-key, one under both keys is information, and a
// clean node exits 0.
func TestCheckS3(t *testing.T) {
	srv := s3test.Start(t)
	w := pirinode.S3(t, srv.Client(), "node-")
	w.Clean()
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	backend := []string{"--s3-endpoint", srv.Endpoint, "--s3-insecure", "--s3-bucket-prefix", "node-"}
	found, summary, code, stderr := checkJSON(t, append([]string{"--verify"}, backend...)...)
	if code != 0 || len(found) != 0 || summary["blobs"].(float64) != 4 {
		t.Fatalf("a clean S3 node: exit %d %v %v %s", code, found, summary, stderr)
	}

	legacy := []byte("stored by Piri v0.2.3")
	legacyName := w.LegacyBlob(legacy)
	w.Allocation(pirinode.Digest(legacy), 1, int64(len(legacy)), 1900000000)
	w.Acceptance(pirinode.Digest(legacy), 1, int64(len(legacy)), 1764000000)
	twin := []byte("moved to v0.2.4 keys, old key kept")
	twinName := w.Stored(twin, 1)
	w.LegacyBlob(twin)
	before, err := treehash.Sum(srv.DataDir)
	must(t, err)
	found, _, code, _ = checkJSON(t, append([]string{"--verify"}, backend...)...)
	want := []string{"both-keys " + twinName, "legacy-key " + legacyName}
	if code != 1 || !slices.Equal(found, want) {
		t.Fatalf("exit %d, found %v, want %v", code, found, want)
	}
	if after, _ := treehash.Sum(srv.DataDir); after != before {
		t.Fatal("check changed the buckets")
	}
}
