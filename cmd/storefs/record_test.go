package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/internal/testsupport/treehash"
	"github.com/storacha/storefs/store/node"
)

// sampleDataDir writes the sample into a fresh Piri-layout data dir.
func sampleDataDir(t *testing.T) (string, *sample.Set) {
	dir := t.TempDir()
	set, err := sample.Populate(context.Background(), dir)
	must(t, err)
	return dir, set
}

// expected lists each kind's ids and rendered JSON.
func expected(t *testing.T, set *sample.Set) map[string]map[string][]byte {
	out := map[string]map[string][]byte{}
	add := func(kind, id string, r interface{ JSON() ([]byte, error) }) {
		js, err := r.JSON()
		must(t, err)
		if out[kind] == nil {
			out[kind] = map[string][]byte{}
		}
		out[kind][id] = js
	}
	for _, a := range set.Allocations {
		add("allocations", a.ID(), a)
	}
	for _, a := range set.Acceptances {
		add("acceptances", a.ID(), a)
	}
	for _, c := range set.Consolidations {
		add("consolidations", c.Batch.String(), c)
	}
	for _, d := range set.Delegations {
		add("delegations", d.CID.String(), d)
	}
	for _, r := range set.Receipts {
		add("receipts", r.CID.String(), r)
	}
	return out
}

// checkRecordCommands runs record ls and show for every kind and returns
// everything they printed.
func checkRecordCommands(t *testing.T, backend []string, set *sample.Set) string {
	var all strings.Builder
	for kind, records := range expected(t, set) {
		out, stderr, code := storefs(t, append(append([]string{"record", "ls"}, backend...), kind)...)
		all.WriteString(out + stderr)
		if code != 0 {
			t.Fatalf("record ls %s: exit %d: %s", kind, code, stderr)
		}
		got := strings.Fields(out)
		var want []string
		for id := range records {
			want = append(want, id)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("record ls %s:\n got %v\nwant %v", kind, got, want)
		}
		for id, js := range records {
			out, stderr, code := storefs(t, append(append([]string{"record", "show"}, backend...), kind, id)...)
			all.WriteString(out + stderr)
			if code != 0 || out != string(js) || !json.Valid([]byte(out)) {
				t.Errorf("record show %s %s: exit %d %s\n%s\nwant\n%s", kind, id, code, stderr, out, js)
			}
		}
	}
	return all.String()
}

func TestRecordCommandsOnDataDir(t *testing.T) {
	dir, set := sampleDataDir(t)
	before, err := treehash.Sum(dir)
	must(t, err)
	printed := checkRecordCommands(t, []string{"--data-dir", dir}, set)

	// A legacy consolidation is listed and shown like the others.
	legacy := set.Consolidations[len(set.Consolidations)-1]
	if !legacy.Legacy {
		t.Fatal("sample has no legacy consolidation")
	}
	if _, err := os.Stat(filepath.Join(dir, "consolidation")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"blob", "ls", "-l"}, {"blob", "verify"}} {
		out, stderr, _ := storefs(t, append(args, "--data-dir", dir)...)
		printed += out + stderr
	}
	// The keystore's secret (the node key's seed) never shows.
	seed := set.NodeKey.Seed()
	for _, form := range []string{string(seed), hex.EncodeToString(seed), strings.ToUpper(hex.EncodeToString(seed))} {
		if strings.Contains(printed, form) {
			t.Fatal("a command printed the keystore secret")
		}
	}
	after, err := treehash.Sum(dir)
	must(t, err)
	if before != after {
		t.Fatal("record commands changed the data dir")
	}
}

func TestRecordCommandErrors(t *testing.T) {
	dir, set := sampleDataDir(t)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"record", "ls", "--data-dir", dir, "blobs"}, 2, "unknown record kind"},
		{[]string{"record", "show", "--data-dir", dir, "receipts"}, 2, "want 2 argument"},
		{[]string{"record", "show", "--data-dir", dir, "receipts", "bafyreia63ftenj6q7jocoojl7nfbtuzqzru6sf7jvspencuwt6an7pus6u"}, 1, "does not exist"},
		{[]string{"record", "show", "--data-dir", dir, "receipts", "../../keystore"}, 1, "does not exist"},
		{[]string{"record", "show", "--data-dir", dir, "allocations", "nonsense"}, 1, "does not exist"},
	} {
		_, stderr, code := storefs(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("storefs %v: exit %d %q, want %d %q", c.args, code, stderr, c.code, c.msg)
		}
	}

	// A corrupt record: a clear error naming it; the others still work.
	ctx := context.Background()
	st, err := node.Open(ctx, node.Config{DataDir: dir, Writable: true})
	must(t, err)
	bad := set.Receipts[0].CID.String()
	must(t, st.Receipts.PutRaw(ctx, bad, []byte("not a car")))
	st.Close()
	_, stderr, code := storefs(t, "record", "show", "--data-dir", dir, "receipts", bad)
	if code != 1 || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "does not decode") {
		t.Errorf("corrupt receipt: exit %d %q", code, stderr)
	}
	other := set.Receipts[1].CID.String()
	if out, _, code := storefs(t, "record", "show", "--data-dir", dir, "receipts", other); code != 0 || !bytes.Contains([]byte(out), []byte(other)) {
		t.Errorf("another receipt after a corrupt one: exit %d", code)
	}
}

func TestRecordCommandsOnS3(t *testing.T) {
	srv := s3test.Start(t)
	set, err := sample.New()
	must(t, err)
	ctx := context.Background()
	st, err := node.Open(ctx, node.Config{Writable: true, S3: &node.S3{Endpoint: srv.Endpoint, BucketPrefix: "piri-",
		Insecure: true, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey}})
	must(t, err)
	must(t, set.Write(ctx, st))
	before, err := treehash.Sum(srv.DataDir)
	must(t, err)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	printed := checkRecordCommands(t, []string{"--s3-endpoint", srv.Endpoint, "--s3-insecure", "--s3-bucket-prefix", "piri-"}, set)
	if strings.Contains(printed, s3test.SecretKey) {
		t.Fatal("output shows the S3 secret")
	}
	after, err := treehash.Sum(srv.DataDir)
	must(t, err)
	if before != after {
		t.Fatal("record commands changed the buckets")
	}
}
