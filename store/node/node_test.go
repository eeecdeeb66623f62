package node_test

import (
	"context"
	"errors"
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
	c, err := node.LoadPiri(write(t, "/var/lib/piri", "http://127.0.0.1:9000"), noEnv)
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

	// Relative paths are the working directory's, as in Piri.
	c, err = node.LoadPiri(write(t, "relative/dir", ""), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if c.Backend() != "datadir" || c.DataDir != filepath.Join(wd, "relative/dir") {
		t.Fatalf("data dir config: %+v", c)
	}

	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[repo\ndata_dir = 1"), 0o600)
	if _, err := node.LoadPiri(bad, noEnv); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad toml: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.toml")
	os.WriteFile(empty, []byte("[server]\nport = 1\n"), 0o600)
	home, _ := os.UserHomeDir()
	if c, err := node.LoadPiri(empty, noEnv); err != nil || c.DataDir != filepath.Join(home, ".storacha") {
		t.Fatalf("no data_dir: %+v, %v; want Piri's default ~/.storacha", c, err)
	}
}

func noEnv(string) string { return "" }

func writeTOML(t *testing.T, text string) string {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A [repo.s3] needs both keys, as Piri's S3Config.Validate says.
func TestLoadPiriHalfAnS3(t *testing.T) {
	for key, text := range map[string]string{
		"bucket_prefix": "[repo]\ndata_dir = \"/d\"\n[repo.s3]\nendpoint = \"h:1\"\n",
		"endpoint":      "[repo]\ndata_dir = \"/d\"\n[repo.s3]\nbucket_prefix = \"p-\"\n",
	} {
		_, err := node.LoadPiri(writeTOML(t, text), noEnv)
		if !errors.Is(err, node.ErrBadConfig) || !strings.Contains(err.Error(), "no "+key) {
			t.Errorf("[repo.s3] without %s: %v", key, err)
		}
	}
}

// The environment variables Piri reads override the file, as in Piri.
func TestLoadPiriEnvironment(t *testing.T) {
	env := map[string]string{"PIRI_DATA_DIR": "/from/env", "PIRI_REPO_S3_ENDPOINT": "env:9000", "PIRI_REPO_S3_BUCKET_PREFIX": "env-",
		"PIRI_REPO_S3_CREDENTIALS_ACCESS_KEY_ID": "ENVAK", "PIRI_REPO_S3_CREDENTIALS_SECRET_ACCESS_KEY": "ENVSK", "PIRI_REPO_S3_INSECURE": "true"}
	c, err := node.LoadPiri(writeTOML(t, "[repo]\ndata_dir = \"/from/file\"\n"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/env" || c.S3 == nil || c.S3.Endpoint != "env:9000" || c.S3.BucketPrefix != "env-" || !c.S3.Insecure ||
		c.S3.AccessKeyID != "ENVAK" || c.S3.SecretAccessKey != "ENVSK" {
		t.Fatalf("loaded %+v %+v", c, c.S3)
	}
}

// Piri ≤ v0.2.2: [repo.blob_storage.minio] names the one blob bucket.
func TestLoadPiriBlobStorage(t *testing.T) {
	c, err := node.LoadPiri(writeTOML(t, "[repo]\ndata_dir = \"/d\"\n[repo.blob_storage.minio]\nendpoint = \"h:9000\"\nbucket = \"blobs\"\ninsecure = true\n[repo.blob_storage.minio.credentials]\naccess_key_id = \"AK\"\nsecret_access_key = \"SK\"\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if b := c.BlobBucket; c.Backend() != "datadir" || b == nil || b.Endpoint != "h:9000" || b.Bucket != "blobs" || !b.Insecure || b.AccessKeyID != "AK" {
		t.Fatalf("loaded %+v %+v", c, c.BlobBucket)
	}
	if strings.Contains(c.String(), "SK") {
		t.Fatalf("String shows the secret: %s", c)
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

// [repo.database] (Piri v0.2.3+): a postgres type names the database its
// PDP state and job queues are in; Piri's environment overrides it.
func TestLoadPiriDatabase(t *testing.T) {
	dir := t.TempDir()
	conf := func(body string) string {
		p := filepath.Join(dir, "piri.toml")
		if err := os.WriteFile(p, []byte("[repo]\ndata_dir = \"/var/lib/piri\"\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const url = "postgres://piri:secret@db.example:5432/piri?sslmode=disable"
	c, err := node.LoadPiri(conf("[repo.database]\ntype = \"postgres\"\n[repo.database.postgres]\nurl = \""+url+"\"\n"), noEnv)
	if err != nil || c.Postgres != url {
		t.Fatalf("postgres: %+v %v", c, err)
	}
	if strings.Contains(c.String(), "secret") {
		t.Errorf("the config's description shows the password: %s", c.String())
	}
	if c, err := node.LoadPiri(conf(""), noEnv); err != nil || c.Postgres != "" {
		t.Errorf("no [repo.database]: %+v %v", c, err)
	}
	env := func(k string) string {
		return map[string]string{"PIRI_REPO_DATABASE_TYPE": "postgres", "PIRI_REPO_DATABASE_POSTGRES_URL": url}[k]
	}
	if c, err := node.LoadPiri(conf(""), env); err != nil || c.Postgres != url {
		t.Errorf("from Piri's environment: %+v %v", c, err)
	}
	for _, bad := range []string{"[repo.database]\ntype = \"postgres\"\n", "[repo.database]\ntype = \"mysql\"\n"} {
		if _, err := node.LoadPiri(conf(bad), noEnv); !errors.Is(err, node.ErrBadConfig) {
			t.Errorf("%q: %v, want ErrBadConfig", bad, err)
		}
	}
}
