// Package node opens the stores a Piri node keeps, chosen by a backend
// configuration with Piri's own selection: S3 configured → S3; a data_dir
// → the on-disk stores; neither → memory.
package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/allocationstore"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/consolidationstore"
	"github.com/storacha/storefs/store/delegationstore"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/dsadapter"
	"github.com/storacha/storefs/store/objectstore/flatfs"
	"github.com/storacha/storefs/store/objectstore/memory"
	"github.com/storacha/storefs/store/objectstore/minio"
	"github.com/storacha/storefs/store/receiptstore"
	"github.com/storacha/storefs/store/recordkind"
	"github.com/storacha/storefs/store/records"
	"github.com/storacha/storefs/store/retrievaljournal"
)

// Config selects a backend.
type Config struct {
	DataDir string // a Piri data_dir
	S3      *S3    // Piri's [repo.s3]
	// BlobBucket is Piri ≤ v0.2.2's [repo.blob_storage.minio]: the data
	// dir's blobs are in this one bucket (bare <b32> keys) instead of
	// pdp/datastore; its records stay in the data dir.
	BlobBucket *Bucket
	// Writable allows writes: creating a missing flatfs store or bucket.
	// Without it nothing is created and LevelDBs open read-only.
	Writable bool
	// BlobsOnly opens the blob store alone: blobs can be read from a
	// running node, whose LevelDBs it holds locked.
	BlobsOnly bool
	// Timeout bounds each backend request (S3). Zero means the default.
	Timeout time.Duration
	// Postgres is the URL of Piri's PostgreSQL database ([repo.database]
	// type = "postgres", v0.2.3+), where its PDP state and job queues
	// are; "" when they are SQLite files in the data dir. It may hold a
	// password: show it only through pgread.Redact.
	Postgres string
	// Instrument, when set, wraps every objectstore opened (metrics).
	Instrument func(store string, s objectstore.Store) objectstore.Store
}

func (c Config) wrap(store string, s objectstore.Store) objectstore.Store {
	if c.Instrument == nil {
		return s
	}
	return c.Instrument(store, s)
}

// S3 is Piri's [repo.s3] section.
type S3 struct {
	Endpoint        string
	BucketPrefix    string
	Insecure        bool
	Region          string // empty: asked of the server
	AccessKeyID     string
	SecretAccessKey string
}

// Bucket is one bucket of an S3 server: [repo.blob_storage.minio].
type Bucket struct {
	Endpoint        string
	Bucket          string
	Insecure        bool
	AccessKeyID     string
	SecretAccessKey string
}

// Backend names the selected backend: "s3", "datadir" or "memory".
func (c Config) Backend() string {
	switch {
	case c.S3 != nil:
		return "s3"
	case c.DataDir != "":
		return "datadir"
	}
	return "memory"
}

// String describes the backend for logs and messages, without secrets.
func (c Config) String() string {
	switch c.Backend() {
	case "s3":
		return fmt.Sprintf("s3 %s (bucket prefix %q)", c.S3.Endpoint, c.S3.BucketPrefix)
	case "datadir":
		if b := c.BlobBucket; b != nil {
			return fmt.Sprintf("data dir %s, blobs in bucket %s at %s", c.DataDir, b.Bucket, b.Endpoint)
		}
		return "data dir " + c.DataDir
	}
	return "memory"
}

// Key names the store for what is kept about it elsewhere (its
// catalogue): its backend and place, never a secret.
func (c Config) Key() string {
	switch c.Backend() {
	case "s3":
		return "s3-" + c.S3.Endpoint + "-" + c.S3.BucketPrefix
	case "datadir":
		if b := c.BlobBucket; b != nil {
			return "bucket-" + b.Endpoint + "-" + b.Bucket
		}
		if abs, err := filepath.Abs(c.DataDir); err == nil {
			return "datadir-" + abs
		}
		return "datadir-" + c.DataDir
	}
	return "memory"
}

// BlobDir is where a data_dir keeps its blobs (flatfs).
func BlobDir(dataDir string) string { return filepath.Join(dataDir, "pdp", "datastore") }

// BlobBucket is the bucket that holds a node's blobs.
func BlobBucket(prefix string) string { return prefix + "pdp" }

// Stores is an opened set of stores. Close releases them.
type Stores struct {
	Blobs blobstore.Store
	records.Stores
	// Absent names record stores the backend does not have (a LevelDB
	// directory or bucket never created): they are shown empty.
	Absent []string
	// Journal is the retrieval journal, a local-only store: in the data
	// dir, also for a node whose records and blobs are in S3. Nil when
	// there is no data dir or no journal in it.
	Journal *retrievaljournal.Journal
	closers []func() error
	wrap    func(store string, o objectstore.Store) objectstore.Store
}

// Buckets are the S3 bucket suffixes of a node, blobs first.
var Buckets = func() []string {
	out := []string{"pdp"}
	for _, k := range recordkind.All {
		if k.Bucket != "" {
			out = append(out, k.Bucket)
		}
	}
	return out
}()

// ConsolidationJournal is where Piri v0.0.15–v0.2.2 kept consolidations,
// in the split form, inside a data_dir.
var ConsolidationJournal = recordkind.Consolidations.LegacyDirs[0]

// recordStores fills the typed stores from one objectstore per kind;
// journal is the old consolidation directory, nil where there is none.
func (s *Stores) recordStores(open func(k recordkind.Kind) (objectstore.Store, error), b recordkind.Backend, journal objectstore.Store) error {
	objs := map[string]objectstore.Store{}
	for _, k := range recordkind.All {
		o, err := open(k)
		if err != nil {
			return err
		}
		objs[k.Name] = s.wrap(k.Dir, o)
	}
	s.Allocations = allocationstore.New(objs[recordkind.Allocations.Name], b)
	s.Acceptances = acceptancestore.New(objs[recordkind.Acceptances.Name], b)
	s.Consolidations = consolidationstore.New(objs[recordkind.Consolidations.Name], b, journal)
	s.Delegations = delegationstore.New(objs[recordkind.Delegations.Name], b)
	s.Receipts = receiptstore.New(objs[recordkind.Receipts.Name], b)
	slices.Sort(s.Absent)
	return nil
}

// Close releases every store.
func (s *Stores) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Open opens the configured stores.
func Open(ctx context.Context, c Config) (*Stores, error) {
	switch c.Backend() {
	case "s3":
		return openS3(ctx, c)
	case "datadir":
		return openDataDir(ctx, c)
	}
	s := &Stores{wrap: c.wrap}
	// Piri's memory mode keeps blobs in a datastore: its keys and layout.
	s.Blobs = blobstore.New(c.wrap("blobs", memory.New()), blobstore.Datastore{})
	s.recordStores(func(recordkind.Kind) (objectstore.Store, error) { return dsadapter.NewMemory(), nil }, recordkind.Datastore, dsadapter.NewMemory())
	return s, nil
}

// openLocal opens the local-only stores of a data dir that a node keeps
// whatever its backend (the keystore, wallet/, is never opened for show).
func (s *Stores) openLocal(dataDir string) {
	if dataDir == "" {
		return
	}
	if j, err := retrievaljournal.Open(filepath.Join(dataDir, retrievaljournal.Dir)); err == nil {
		s.Journal = j
	}
}

// listShards is how many shards of the blob bucket are listed at once:
// listing is a round trip per 1,000 keys, and far S3 is 10–30 ms away.
// (16 prefixes at once listed 100k keys in 0.56× the time of one
// page-by-page loop, even on loopback.)
const listShards = 16

func openS3(ctx context.Context, c Config) (*Stores, error) {
	endpoint, insecure := splitScheme(c.S3.Endpoint, c.S3.Insecure)
	client, err := minio.NewClient(minio.Config{
		Endpoint:        endpoint,
		AccessKeyID:     c.S3.AccessKeyID,
		SecretAccessKey: c.S3.SecretAccessKey,
		Insecure:        insecure,
		Region:          c.S3.Region,
		Timeout:         c.Timeout,
	})
	if err != nil {
		return nil, err
	}
	pdp, err := client.Bucket(ctx, BlobBucket(c.S3.BucketPrefix), c.Writable)
	if err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	s := &Stores{wrap: c.wrap}
	s.Blobs = blobstore.New(c.wrap("blobs", pdp.Sharded(listShards)), blobstore.S3{})
	if c.BlobsOnly {
		return s, nil
	}
	err = s.recordStores(func(k recordkind.Kind) (objectstore.Store, error) {
		if k.Bucket == "" { // a kind Piri keeps in the data dir only
			s.Absent = append(s.Absent, k.Name+" (not kept on S3)")
			return dsadapter.NewMemory(), nil
		}
		name := c.S3.BucketPrefix + k.Bucket
		b, err := client.Bucket(ctx, name, c.Writable)
		if errors.Is(err, minio.ErrNoBucket) {
			s.Absent = append(s.Absent, "bucket "+name)
			return dsadapter.NewMemory(), nil
		}
		if err != nil {
			return nil, fmt.Errorf("open record store: %w", err)
		}
		return b, nil
	}, recordkind.S3, nil)
	if err != nil {
		return nil, err
	}
	s.openLocal(c.DataDir) // a node on S3 keeps its local stores in its data dir
	return s, nil
}

// openBucket opens the one blob bucket of a Piri ≤ v0.2.2 data dir.
func openBucket(ctx context.Context, c Config, b *Bucket) (objectstore.Store, error) {
	endpoint, insecure := splitScheme(b.Endpoint, b.Insecure)
	client, err := minio.NewClient(minio.Config{Endpoint: endpoint, AccessKeyID: b.AccessKeyID, SecretAccessKey: b.SecretAccessKey,
		Insecure: insecure, Timeout: c.Timeout})
	if err != nil {
		return nil, err
	}
	bucket, err := client.Bucket(ctx, b.Bucket, c.Writable)
	if err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	return bucket, nil
}

// splitScheme accepts an endpoint written as a URL: the scheme decides
// between http and https.
func splitScheme(endpoint string, insecure bool) (string, bool) {
	if rest, ok := strings.CutPrefix(endpoint, "http://"); ok {
		return strings.TrimSuffix(rest, "/"), true
	}
	if rest, ok := strings.CutPrefix(endpoint, "https://"); ok {
		return strings.TrimSuffix(rest, "/"), false
	}
	return endpoint, insecure
}

func openDataDir(ctx context.Context, c Config) (*Stores, error) {
	if c.Writable {
		if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
	}
	if fi, err := os.Stat(c.DataDir); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("data dir %s: not a directory", c.DataDir)
	}
	s := &Stores{wrap: c.wrap}
	if b := c.BlobBucket; b != nil {
		blobs, err := openBucket(ctx, c, b)
		if err != nil {
			return nil, err
		}
		s.Blobs = blobstore.New(c.wrap("blobs", blobs), blobstore.BareS3{})
	} else {
		blobs, err := flatfs.Open(BlobDir(c.DataDir), flatfs.Options{Create: c.Writable, Sync: true})
		if err != nil {
			return nil, fmt.Errorf("open blob store: %w", err)
		}
		s.Blobs = blobstore.New(c.wrap("blobs", blobs), blobstore.FlatFS{})
	}
	if c.BlobsOnly {
		return s, nil
	}
	journal, err := s.openJournal(c)
	if err != nil {
		s.Close()
		return nil, err
	}
	err = s.recordStores(func(k recordkind.Kind) (objectstore.Store, error) {
		path := filepath.Join(c.DataDir, k.Dir)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !c.Writable {
			s.Absent = append(s.Absent, "leveldb "+path)
			return dsadapter.NewMemory(), nil
		}
		db, err := dsadapter.OpenLevelDB(path, !c.Writable)
		if err != nil {
			return nil, fmt.Errorf("open record store: %w", err)
		}
		s.closers = append(s.closers, db.Close)
		return db, nil
	}, recordkind.Datastore, journal)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.openLocal(c.DataDir)
	return s, nil
}

// openJournal opens the old consolidation directory of a data dir, or
// returns nil when it has none (nodes that started on v0.2.3 or later).
// It is never created: Piri v0.2.4 writes no consolidation there.
func (s *Stores) openJournal(c Config) (objectstore.Store, error) {
	path := filepath.Join(c.DataDir, ConsolidationJournal)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	db, err := dsadapter.OpenLevelDB(path, !c.Writable)
	if err != nil {
		return nil, fmt.Errorf("open record store: %w", err)
	}
	s.closers = append(s.closers, db.Close)
	return s.wrap("consolidation_journal", db), nil
}

// piriConfig is the part of a Piri config TOML storefs reads; other
// sections ([identity], [server], [ucan] …) are ignored.
type piriConfig struct {
	Repo struct {
		DataDir string  `toml:"data_dir"`
		S3      *piriS3 `toml:"s3"`
		// Piri ≤ v0.2.2: blobs in one bucket, records in the data dir.
		BlobStorage struct {
			Minio *struct {
				Endpoint    string          `toml:"endpoint"`
				Bucket      string          `toml:"bucket"`
				Insecure    bool            `toml:"insecure"`
				Credentials piriCredentials `toml:"credentials"`
			} `toml:"minio"`
		} `toml:"blob_storage"`
		// v0.2.3+: the PDP state and job queues in PostgreSQL.
		Database struct {
			Type     string `toml:"type"`
			Postgres struct {
				URL string `toml:"url"`
			} `toml:"postgres"`
		} `toml:"database"`
	} `toml:"repo"`
}

type piriS3 struct {
	Endpoint     string          `toml:"endpoint"`
	BucketPrefix string          `toml:"bucket_prefix"`
	Insecure     bool            `toml:"insecure"`
	Credentials  piriCredentials `toml:"credentials"`
}

type piriCredentials struct {
	AccessKeyID     string `toml:"access_key_id"`
	SecretAccessKey string `toml:"secret_access_key"`
}

// ErrBadConfig is matched by a Piri config Piri itself would refuse.
var ErrBadConfig = errors.New("bad piri config")

// LoadPiri reads the [repo] section of a Piri config file as Piri does
// (pkg/config, v0.2.4): the environment variables Piri reads override
// the file (PIRI_DATA_DIR, and viper's PIRI_REPO_S3_*), data_dir defaults
// to ~/.storacha, relative paths resolve from the working directory, and
// a [repo.s3] needs both endpoint and bucket_prefix. env is os.Getenv.
func LoadPiri(path string, env func(string) string) (Config, error) {
	var pc piriConfig
	if _, err := toml.DecodeFile(path, &pc); err != nil {
		return Config{}, fmt.Errorf("read piri config %s: %w", path, err)
	}
	r := &pc.Repo
	over := func(dst *string, name string) {
		if v := env(name); v != "" {
			*dst = v
		}
	}
	over(&r.DataDir, "PIRI_DATA_DIR")
	if r.S3 == nil && (env("PIRI_REPO_S3_ENDPOINT") != "" || env("PIRI_REPO_S3_BUCKET_PREFIX") != "") {
		r.S3 = &piriS3{}
	}
	if s := r.S3; s != nil {
		over(&s.Endpoint, "PIRI_REPO_S3_ENDPOINT")
		over(&s.BucketPrefix, "PIRI_REPO_S3_BUCKET_PREFIX")
		over(&s.Credentials.AccessKeyID, "PIRI_REPO_S3_CREDENTIALS_ACCESS_KEY_ID")
		over(&s.Credentials.SecretAccessKey, "PIRI_REPO_S3_CREDENTIALS_SECRET_ACCESS_KEY")
		if v := env("PIRI_REPO_S3_INSECURE"); v != "" {
			s.Insecure = v == "true" || v == "1"
		}
	}

	var c Config
	c.DataDir = r.DataDir
	if c.DataDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return Config{}, fmt.Errorf("piri config %s: no data_dir, and no home directory for the default ~/.storacha: %w", path, err)
		}
		c.DataDir = filepath.Join(home, ".storacha")
	}
	if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	}
	if s := r.S3; s != nil {
		switch {
		case s.Endpoint == "" && s.BucketPrefix == "":
		case s.Endpoint == "":
			return Config{}, fmt.Errorf("%w %s: [repo.s3] has bucket_prefix but no endpoint", ErrBadConfig, path)
		case s.BucketPrefix == "":
			return Config{}, fmt.Errorf("%w %s: [repo.s3] has endpoint but no bucket_prefix", ErrBadConfig, path)
		default:
			c.S3 = &S3{Endpoint: s.Endpoint, BucketPrefix: s.BucketPrefix, Insecure: s.Insecure,
				AccessKeyID: s.Credentials.AccessKeyID, SecretAccessKey: s.Credentials.SecretAccessKey}
		}
	}
	over(&r.Database.Type, "PIRI_REPO_DATABASE_TYPE")
	over(&r.Database.Postgres.URL, "PIRI_REPO_DATABASE_POSTGRES_URL")
	switch r.Database.Type {
	case "", "sqlite":
	case "postgres":
		if r.Database.Postgres.URL == "" {
			return Config{}, fmt.Errorf("%w %s: [repo.database] type is postgres but [repo.database.postgres] has no url", ErrBadConfig, path)
		}
		c.Postgres = r.Database.Postgres.URL
	default:
		return Config{}, fmt.Errorf("%w %s: [repo.database] type %q: Piri knows sqlite and postgres", ErrBadConfig, path, r.Database.Type)
	}
	if m := r.BlobStorage.Minio; m != nil && m.Endpoint != "" && c.S3 == nil {
		if m.Bucket == "" {
			return Config{}, fmt.Errorf("%w %s: [repo.blob_storage.minio] has endpoint but no bucket", ErrBadConfig, path)
		}
		c.BlobBucket = &Bucket{Endpoint: m.Endpoint, Bucket: m.Bucket, Insecure: m.Insecure,
			AccessKeyID: m.Credentials.AccessKeyID, SecretAccessKey: m.Credentials.SecretAccessKey}
	}
	return c, nil
}
