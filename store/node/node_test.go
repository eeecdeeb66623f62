package node_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storacha/storefs/store/node"
)

const piriTOML = `
[identity]
key_file = "/etc/piri/service.pem"

[server]
port = 3000
host = "0.0.0.0"

[repo]
data_dir = "%s"

[repo.s3]
endpoint = "%s"
bucket_prefix = "node1-"
insecure = true

[repo.s3.credentials]
access_key_id = "AKID"
secret_access_key = "SECRET"

[ucan]
proof_set = 7
`

func write(t *testing.T, dataDir, endpoint string) string {
	path := filepath.Join(t.TempDir(), "config.toml")
	text := strings.Replace(strings.Replace(piriTOML, "%s", dataDir, 1), "%s", endpoint, 1)
	if endpoint == "" {
		text = text[:strings.Index(text, "[repo.s3]")] + text[strings.Index(text, "[ucan]"):]
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadPiri(t *testing.T) {
	c, err := node.LoadPiri(write(t, "/var/lib/piri", "http://127.0.0.1:9000"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend() != "s3" || c.S3.Endpoint != "http://127.0.0.1:9000" || c.S3.BucketPrefix != "node1-" ||
		!c.S3.Insecure || c.S3.AccessKeyID != "AKID" || c.S3.SecretAccessKey != "SECRET" || c.DataDir != "/var/lib/piri" {
		t.Fatalf("loaded %+v %+v", c, c.S3)
	}
	if strings.Contains(c.String(), "SECRET") || strings.Contains(c.String(), "AKID") {
		t.Fatalf("String shows credentials: %s", c)
	}

	c, err = node.LoadPiri(write(t, "relative/dir", ""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend() != "datadir" || !filepath.IsAbs(c.DataDir) || !strings.HasSuffix(c.DataDir, "relative/dir") {
		t.Fatalf("data dir config: %+v", c)
	}

	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[repo\ndata_dir = 1"), 0o600)
	if _, err := node.LoadPiri(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad toml: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.toml")
	os.WriteFile(empty, []byte("[server]\nport = 1\n"), 0o600)
	if _, err := node.LoadPiri(empty); err == nil {
		t.Fatal("a config with no [repo] loaded")
	}
}

func TestOpenDataDirReadOnlyCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	if _, err := node.Open(context.Background(), node.Config{DataDir: dir}); err == nil {
		t.Fatal("read-only open of a data dir without pdp/datastore succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("read-only open created %v", entries)
	}
	s, err := node.Open(context.Background(), node.Config{DataDir: dir, Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(node.BlobDir(dir), "SHARDING")); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryIsTheDefault(t *testing.T) {
	c := node.Config{}
	if c.Backend() != "memory" {
		t.Fatal(c.Backend())
	}
	s, err := node.Open(context.Background(), c)
	if err != nil || s.Blobs == nil {
		t.Fatal(err)
	}
}
