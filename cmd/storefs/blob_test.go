package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/internal/testsupport/treehash"
)

const (
	helloB32 = "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i"
	helloB58 = "zQmaozNR7DZHQK1ZcU9p7QdrshMvXqWK6gpu5rmrkPdT3L4"
	helloCID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
)

// storefs runs the CLI in-process.
func storefs(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"storefs"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// piriDataDir lays out a data_dir by hand as Piri writes it.
func piriDataDir(t *testing.T) string {
	dir := t.TempDir()
	ds := filepath.Join(dir, "pdp", "datastore")
	must(t, os.MkdirAll(filepath.Join(ds, "32"), 0o755))
	must(t, os.MkdirAll(filepath.Join(ds, ".temp"), 0o755))
	must(t, os.WriteFile(filepath.Join(ds, "SHARDING"), []byte("/repo/flatfs/shard/v1/next-to-last/2\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(ds, "_README"), []byte("flatfs\n"), 0o444))
	must(t, os.WriteFile(filepath.Join(ds, "32", helloB32+".data"), []byte("hello world"), 0o644))
	return dir
}

func TestBlobCommandsOnPiriDataDir(t *testing.T) {
	dir := piriDataDir(t)
	before, err := treehash.Sum(dir)
	must(t, err)
	backend := []string{"--data-dir", dir}
	checkHello(t, backend)
	after, err := treehash.Sum(dir)
	must(t, err)
	if before != after {
		t.Fatal("reading the data dir changed it")
	}

	// put, then every command sees the new blob
	file := filepath.Join(t.TempDir(), "payload")
	must(t, os.WriteFile(file, bytes.Repeat([]byte("storefs "), 100_000), 0o644))
	out, stderr, code := storefs(t, append([]string{"blob", "put", "--hash", "sha2-512"}, append(backend, file)...)...)
	fields := strings.Split(strings.TrimSpace(out), "\t")
	if code != 0 || len(fields) != 3 || fields[1] != "800000" || fields[2] != file {
		t.Fatalf("put: %q %q %d", out, stderr, code)
	}
	name := fields[0]
	out, _, _ = storefs(t, append([]string{"blob", "ls", "-l"}, backend...)...)
	if !strings.Contains(out, name+"\t800000\n") || !strings.Contains(out, helloB32+"\t11\n") {
		t.Fatalf("ls -l after put:\n%s", out)
	}
	out, _, code = storefs(t, append(append([]string{"blob", "get", "--range", "799992-"}, backend...), name)...)
	if code != 0 || out != "storefs " {
		t.Fatalf("get tail: %q %d", out, code)
	}
	out, _, code = storefs(t, append([]string{"blob", "verify"}, backend...)...)
	if code != 0 || !strings.Contains(out, "verified 2 blobs: 2 ok, 0 bad") {
		t.Fatalf("verify: %q %d", out, code)
	}
}

// checkHello runs the user-facing checks of the store-stack issue.
func checkHello(t *testing.T, backend []string) {
	t.Helper()
	for _, c := range []struct {
		cmd  []string // the command and its flags; the backend flags follow
		rest []string
		want string
	}{
		{[]string{"blob", "get"}, []string{helloB32}, "hello world"},
		{[]string{"blob", "get", "--range", "0-4"}, []string{helloB32}, "hello"},
		{[]string{"blob", "get", "--range", "6-"}, []string{helloB58}, "world"},
		{[]string{"blob", "get"}, []string{helloCID}, "hello world"},
		{[]string{"blob", "get"}, []string{strings.ToUpper(helloB32)}, "hello world"},
		{[]string{"blob", "ls"}, nil, helloB32 + "\n"},
		{[]string{"blob", "ls", "-l"}, nil, helloB32 + "\t11\n"},
	} {
		args := append(append(append([]string{}, c.cmd...), backend...), c.rest...)
		out, stderr, code := storefs(t, args...)
		if code != 0 || out != c.want {
			t.Errorf("storefs %v: %q (stderr %q, exit %d), want %q", args, out, stderr, code, c.want)
		}
	}
	out, _, code := storefs(t, append(append([]string{"blob", "stat"}, backend...), helloB58)...)
	if code != 0 || !strings.Contains(out, "size\t11\n") || !strings.Contains(out, "cid\t"+helloCID+"\n") {
		t.Errorf("stat: %q %d", out, code)
	}
}

func TestExitCodes(t *testing.T) {
	dir := piriDataDir(t)
	missing := "ciqbbqizrsutt4vmcoxjxkjytvomvh6uzn2nhptnndmrmmsh6w6yagy" // a valid name, not stored
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"blob", "ls", "--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"no-such-command"}, 2, "unknown command"},
		{[]string{"blob", "get"}, 2, "want 1 argument"},
		{[]string{"blob", "get", "--data-dir", dir, "not-a-multihash"}, 2, "not a multihash"},
		{[]string{"blob", "get", "--data-dir", dir, "--range", "9-2", helloB32}, 2, "END >= START"},
		{[]string{"blob", "get", "--data-dir", dir, helloB32, "--range", "0-1"}, 2, "flags come before arguments"},
		{[]string{"blob", "ls", "--data-dir", dir, "--s3-endpoint", "127.0.0.1:1"}, 2, "name one backend"},
		{[]string{"blob", "get", "--data-dir", dir, missing}, 1, "does not exist"},
		{[]string{"blob", "get", "--data-dir", dir, "--range", "11-", helloB32}, 1, "not satisfiable"},
		{[]string{"blob", "ls", "--data-dir", filepath.Join(dir, "absent")}, 1, "no such file"},
		{[]string{"blob", "put", "--hash", "md99", "--data-dir", dir, "x"}, 2, "not a multihash function"},
		{[]string{"mount", "-o", "ro,bogus", "--data-dir", dir, "/tmp"}, 2, "unknown -o option \"bogus\""},
		{[]string{"mount", "-o", "uid=abc", "--data-dir", dir, "/tmp"}, 2, "want a number"},
		{[]string{"mount", "--data-dir", dir}, 2, "want 1 argument"},
		{[]string{"mount", "--data-dir", dir, filepath.Join(dir, "no-such-mountpoint")}, 1, "no such file"},
		{[]string{"mount", "--log-format", "xml", "--data-dir", dir, "/tmp"}, 2, "--log-format"},
		{[]string{"mount", "--prefetch-budget", "0", "--data-dir", dir, "/tmp"}, 2, "--prefetch-budget \"0\": below the smallest that works, 4M"},
		{[]string{"mount", "-o", "prefetch_budget=2M", "--data-dir", dir, "/tmp"}, 2, "-o prefetch_budget=2M"},
		{[]string{"mount", "-o", "read_ahead_kb=lots", "--data-dir", dir, "/tmp"}, 2, "want a size"},
		{[]string{"mount", "-o", "data_dir=" + dir, "--data-dir", dir, "/tmp"}, 2, "name one backend"},
		{[]string{"mount", "-o", "s3_secret_access_key=x", "--data-dir", dir, "/tmp"}, 2, "credentials never go"},
		{[]string{"blob", "ls", "--s3-endpoint", "127.0.0.1:1", "--s3-secret-access-key", "x"}, 2, "credentials never go"},
		{[]string{"blob", "ls", "--data-dir", dir, "--s3-bucket-prefix", "p-"}, 2, "is an S3 setting"},
		{[]string{"unmount", filepath.Join(dir, "pdp")}, 1, "not mounted"},
	} {
		_, stderr, code := storefs(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("storefs %v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}

func TestVerifyNamesMismatches(t *testing.T) {
	dir := piriDataDir(t)
	path := filepath.Join(dir, "pdp", "datastore", "32", helloB32+".data")
	must(t, os.WriteFile(path, []byte("hello World"), 0o644))
	out, stderr, code := storefs(t, "blob", "verify", "--data-dir", dir)
	if code != 1 || !strings.Contains(stderr, helloB32) || !strings.Contains(out, "1 bad") {
		t.Fatalf("verify of a flipped byte: exit %d, %q, %q", code, out, stderr)
	}
}

// TestS3PiriBuckets runs the same checks against a bucket laid out like
// Piri v0.2.4, holding a v0.2.3 legacy key too, and proves the bucket is
// byte-identical afterwards.
func TestS3PiriBuckets(t *testing.T) {
	srv := s3test.Start(t)
	srv.MakeBucket("nodepdp")
	ctx := context.Background()
	raw := srv.Client()
	put := func(key, data string) {
		_, err := raw.PutObject(ctx, "nodepdp", key, strings.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableContentSha256: true})
		must(t, err)
	}
	put("32/"+helloB32+".data", "hello world")
	legacy := "ciqnod4pubtcjl3n3hakt7oc6smcnje4r3u376byugnyuv2p2ltvbtq" // sha2-256 of "legacy blob"
	put(legacy, "legacy blob")
	put(helloB32, "hello world") // under both keys: listed once
	before, err := treehash.Sum(srv.DataDir)
	must(t, err)

	backend := []string{"--s3-endpoint", srv.Endpoint, "--s3-bucket-prefix", "node", "--s3-insecure"}
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	out, stderr, code := storefs(t, append(append([]string{"blob", "get"}, backend...), legacy)...)
	if code != 0 || out != "legacy blob" {
		t.Fatalf("get legacy key: %q %q %d", out, stderr, code)
	}
	out, _, _ = storefs(t, append([]string{"blob", "ls", "-l"}, backend...)...)
	if out != helloB32+"\t11\n"+legacy+"\t11\n" {
		t.Fatalf("ls -l: %q", out)
	}
	out, _, _ = storefs(t, append([]string{"blob", "ls", "-l", "--layout"}, backend...)...)
	if out != helloB32+"\t11\tv0.2.4\n"+legacy+"\t11\tv0.2.3\n" {
		t.Fatalf("ls -l --layout: %q", out)
	}
	out, _, _ = storefs(t, append(append([]string{"blob", "stat"}, backend...), legacy)...)
	if !strings.Contains(out, "layout\tv0.2.3\n") || !strings.Contains(out, "key\t"+legacy+"\n") || !strings.Contains(out, "stored\t") {
		t.Fatalf("stat of a v0.2.3 blob: %q", out)
	}
	out, _, code = storefs(t, append([]string{"blob", "verify"}, backend...)...)
	if code != 0 || !strings.Contains(out, "2 ok") {
		t.Fatalf("verify: %q %d", out, code)
	}
	// checkHello's ls expects hello alone: run the reads only.
	for _, args := range [][]string{{"--range", "0-4", helloB32}, {helloB58}, {helloCID}} {
		out, stderr, code := storefs(t, append(append([]string{"blob", "get"}, backend...), args...)...)
		if code != 0 || !strings.HasPrefix("hello world", out) || out == "" {
			t.Errorf("get %v: %q %q %d", args, out, stderr, code)
		}
	}
	after, err := treehash.Sum(srv.DataDir)
	must(t, err)
	if before != after {
		t.Fatal("reading the bucket changed it")
	}

	// A wrong secret: a clear failure that never shows a credential.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-abc123")
	_, stderr, code = storefs(t, append([]string{"blob", "ls"}, backend...)...)
	if code != 1 || strings.Contains(stderr, "wrong-secret-abc123") || strings.Contains(stderr, s3test.AccessKey) {
		t.Fatalf("wrong secret: exit %d, %q", code, stderr)
	}
	// An unreachable server: exit 1, naming it.
	_, stderr, code = storefs(t, "blob", "ls", "--s3-endpoint", "127.0.0.1:1", "--s3-insecure", "--timeout", "2s")
	if code != 1 || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Fatalf("unreachable: exit %d, %q", code, stderr)
	}
}

// TestPutStreams stores a 1 GiB file through the real binary and checks
// its peak RSS stays far below the file size.
func TestPutStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB put: skipped in -short mode")
	}
	bin := filepath.Join(t.TempDir(), "storefs")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	must(t, build.Run())

	dir := t.TempDir()
	file := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(file)
	must(t, err)
	must(t, f.Truncate(1<<30)) // sparse: cheap to make, read as 1 GiB of zeros
	f.Close()
	cmd := exec.Command(bin, "blob", "put", "--data-dir", dir, file)
	out, err := cmd.Output()
	must(t, err)
	if !strings.Contains(string(out), fmt.Sprintf("\t%d\t", 1<<30)) {
		t.Fatalf("put: %q", out)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	t.Logf("peak RSS putting 1 GiB: %d MiB", rss>>20)
	if rss > 100<<20 {
		t.Fatalf("peak RSS %d MiB putting a 1 GiB file", rss>>20)
	}
}

// TestEveryCommandHasHelp: a usage line and an example for every command.
func TestEveryCommandHasHelp(t *testing.T) {
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(append([]string{}, path...), c.Name)
			out, stderr, code := storefs(t, append(p, "--help")...)
			if code != 0 || !strings.Contains(out, "USAGE:") || !strings.Contains(out, "Example") {
				t.Errorf("storefs %s --help: exit %d, %q\n%s", strings.Join(p, " "), code, stderr, out)
			}
			walk(p, c.Subcommands)
		}
	}
	walk(nil, commands())
	out, _, code := storefs(t, "version")
	if code != 0 || !strings.HasPrefix(out, "storefs ") {
		t.Errorf("version: %q", out)
	}
	out, _, code = storefs(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "complete -o bashdefault") {
		t.Errorf("completion: %q", out)
	}
}

// With no backend named, read-only commands look where Piri keeps its
// config (here the user's config directory) and say which file they
// used; with none found they show the empty memory store and say so;
// writes need a backend named.
func TestConfigDiscovery(t *testing.T) {
	dir := piriDataDir(t)
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	t.Setenv("HOME", t.TempDir())
	out, stderr, code := storefs(t, "blob", "ls")
	if code != 0 || out != "" || !strings.Contains(stderr, "no Piri config found") || !strings.Contains(stderr, filepath.Join(xdg, "piri", "config.toml")) {
		t.Fatalf("no config anywhere: %q, %q, exit %d; want an empty listing and a warning", out, stderr, code)
	}
	must(t, os.MkdirAll(filepath.Join(xdg, "piri"), 0o755))
	cfg := filepath.Join(xdg, "piri", "config.toml")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf("[repo]\ndata_dir = %q\n", dir)), 0o600))
	out, stderr, code = storefs(t, "blob", "ls")
	if code != 0 || out != helloB32+"\n" || !strings.Contains(stderr, "using the Piri config "+cfg) {
		t.Fatalf("config in the user's config dir: %q, %q, exit %d", out, stderr, code)
	}
	if _, stderr, code := storefs(t, "blob", "put", filepath.Join(dir, "pdp", "datastore", "SHARDING")); code != 2 || !strings.Contains(stderr, "name a backend") {
		t.Fatalf("blob put with no backend named: exit %d, %q", code, stderr)
	}
}
