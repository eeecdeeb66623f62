// Package catalog keeps a store's catalogue on disk: what each blob is
// (a CAR shard with its roots, a sharded DAG index, or other), and where
// every block an index on the node locates lies (its shard, offset and
// length, and the index that says so). It is built by reading each
// blob's head once and each index blob whole (Refresh), kept up to date
// incrementally, and never held in memory whole: it is a SQLite
// database in WAL mode, so one process writes (a lock file says which)
// while any number read, never blocked.
package catalog

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite", pure Go

	"github.com/storacha/storefs/internal/helpers/lockfile"
	"github.com/storacha/storefs/store/carblob"
)

// schemaVersion is bumped when the tables change: an older catalogue is
// rebuilt.
const schemaVersion = "1"

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
-- every multihash the catalogue names: blobs, and shards indexes name
CREATE TABLE IF NOT EXISTS names (id INTEGER PRIMARY KEY, digest BLOB NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS blobs (
	id INTEGER PRIMARY KEY REFERENCES names(id),
	size INTEGER NOT NULL,
	kind INTEGER NOT NULL,
	roots TEXT NOT NULL,        -- CIDs, space-separated
	data_offset INTEGER NOT NULL,
	gen INTEGER NOT NULL,       -- the last refresh that listed it
	scanned INTEGER NOT NULL DEFAULT 0
);
-- where a block's data lies: by an index blob (source), or by a scan of
-- its shard (source = the shard)
CREATE TABLE IF NOT EXISTS slices (
	digest BLOB NOT NULL,
	shard INTEGER NOT NULL,
	offset INTEGER NOT NULL,
	length INTEGER NOT NULL,
	source INTEGER NOT NULL,
	PRIMARY KEY (digest, shard, source)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS slices_by_source ON slices(source);
CREATE INDEX IF NOT EXISTS slices_by_shard ON slices(shard, offset);
-- a scanned CAR's blocks, with their CIDs
CREATE TABLE IF NOT EXISTS blocks (
	shard INTEGER NOT NULL,
	offset INTEGER NOT NULL,
	length INTEGER NOT NULL,
	cid BLOB NOT NULL,
	PRIMARY KEY (shard, offset)
) WITHOUT ROWID;
-- what each index blob says of its upload
CREATE TABLE IF NOT EXISTS indexes (
	id INTEGER PRIMARY KEY REFERENCES names(id),
	content TEXT NOT NULL,
	shards INTEGER NOT NULL,
	slices INTEGER NOT NULL
);
`

// Catalog is an open catalogue.
type Catalog struct {
	db   *sql.DB
	path string
	dir  string
}

// Path is where the catalogue of the store named key lives under dir:
// the key made a file name, and a hash of it (two keys never share one).
func Path(dir, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(dir, fmt.Sprintf("%s-%x.db", safeName(key), sum[:4]))
}

// safeName makes a store's key (its backend and place) a file name.
func safeName(key string) string {
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Open opens the catalogue of the store named key (its backend and
// place, e.g. "s3-10.0.0.5_9000-node1-") under dir, creating both.
func Open(dir, key string) (*Catalog, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", dir, err)
	}
	path := Path(dir, key)
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(OFF)&_pragma=cache_size(-32768)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	c := &Catalog{db: db, path: path, dir: dir}
	if err := c.init(key); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

func (c *Catalog) init(key string) error {
	if _, err := c.db.Exec(schema); err != nil {
		return fmt.Errorf("catalog %s: %w", c.path, err)
	}
	err := checkSchema(c.db)
	if errors.Is(err, ErrNotBuilt) {
		_, err = c.db.Exec(`INSERT INTO meta(key, value) VALUES ('schema', ?), ('store', ?)`, schemaVersion, key)
	}
	if err != nil {
		return fmt.Errorf("catalog %s: %w", c.path, err)
	}
	return nil
}

// ErrNotBuilt: the store has no catalogue under the directory yet.
var ErrNotBuilt = errors.New("no catalogue of this store yet (storefs catalog builds it)")

// OpenReader opens the existing catalogue of the store named key to read
// only: it creates no table and writes nothing, not even the checkpoint
// a last connection's close runs, so a command that only looks (find)
// starts fast and never takes a write lock from the mount building it.
func OpenReader(dir, key string) (*Catalog, error) {
	path := Path(dir, key)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("catalog %s: %w", path, ErrNotBuilt)
		}
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	dsn := "file:" + path + "?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)&_pragma=cache_size(-32768)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	c := &Catalog{db: db, path: path, dir: dir}
	if err := checkSchema(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	return c, nil
}

// checkSchema says whether the catalogue is one this storefs reads:
// ErrNotBuilt for one that holds nothing yet.
func checkSchema(db *sql.DB) error {
	var v string
	err := db.QueryRow(`SELECT value FROM meta WHERE key = 'schema'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotBuilt
	case err == nil && v != schemaVersion:
		return fmt.Errorf("schema %s, this storefs reads %s: refresh it with storefs catalog --rebuild", v, schemaVersion)
	}
	return err
}

// Close closes the catalogue.
func (c *Catalog) Close() error { return c.db.Close() }

// File is the catalogue's database file.
func (c *Catalog) File() string { return c.path }

// Blob is what the catalogue knows of a blob.
type Blob struct {
	Digest     mh.Multihash
	Size       int64
	Kind       carblob.Kind
	Roots      []cid.Cid
	DataOffset int64
}

// Blob is the catalogued blob digest; ok is false for one not catalogued.
func (c *Catalog) Blob(ctx context.Context, digest mh.Multihash) (b Blob, ok bool, err error) {
	var kind int
	var roots string
	err = c.db.QueryRowContext(ctx, `SELECT b.size, b.kind, b.roots, b.data_offset FROM blobs b JOIN names n ON n.id = b.id WHERE n.digest = ?`,
		[]byte(digest)).Scan(&b.Size, &kind, &roots, &b.DataOffset)
	if errors.Is(err, sql.ErrNoRows) {
		return Blob{}, false, nil
	}
	if err != nil {
		return Blob{}, false, fmt.Errorf("catalog: %w", err)
	}
	b.Digest, b.Kind = digest, carblob.Kind(kind)
	if b.Roots, err = parseRoots(roots); err != nil {
		return Blob{}, false, fmt.Errorf("catalog: blob %x: %w", []byte(digest), err)
	}
	return b, true, nil
}

// CARs calls yield for every catalogued CAR blob (shard or index), in
// digest order; it stops when yield returns false.
func (c *Catalog) CARs(ctx context.Context, yield func(Blob) bool) error {
	rows, err := c.db.QueryContext(ctx, `SELECT n.digest, b.size, b.kind, b.roots, b.data_offset FROM blobs b JOIN names n ON n.id = b.id WHERE b.kind != ? ORDER BY n.digest`, int(carblob.Other))
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b Blob
		var d []byte
		var kind int
		var roots string
		if err := rows.Scan(&d, &b.Size, &kind, &roots, &b.DataOffset); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		b.Digest, b.Kind = d, carblob.Kind(kind)
		if b.Roots, err = parseRoots(roots); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		if !yield(b) {
			return nil
		}
	}
	return rows.Err()
}

// Roots yields, in order and once each, the UnixFS roots the node can
// name: the content of each index, and the roots a CAR shard's header
// names. Guppy's placeholder (an identity CID) and roots that are no
// UnixFS (codecs other than dag-pb and raw) are left out.
func (c *Catalog) Roots(ctx context.Context, yield func(cid.Cid) bool) error {
	rows, err := c.db.QueryContext(ctx, `SELECT content FROM indexes UNION SELECT roots FROM blobs WHERE kind = ? AND roots != '' ORDER BY 1`, int(carblob.Shard))
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{} // roots of headers that name several
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		fields := strings.Fields(s)
		for _, f := range fields {
			if seen[f] {
				continue
			}
			if len(fields) > 1 {
				seen[f] = true
			}
			r, err := cid.Decode(f)
			if err != nil {
				continue // an index's content is whatever its writer put there
			}
			if r.Prefix().MhType == mh.IDENTITY || (r.Type() != cid.DagProtobuf && r.Type() != cid.Raw) {
				continue
			}
			if !yield(r) {
				return nil
			}
		}
	}
	return rows.Err()
}

// Location is where a block's data lies.
type Location struct {
	// Shard is the blob holding it; Here says whether this node stores
	// it.
	Shard          mh.Multihash
	Here           bool
	Offset, Length uint64
	// ShardSize is the shard's size when it is here.
	ShardSize int64
	// Index is the index blob that says so; nil when a scan of the
	// shard found it, or when the block is the whole blob.
	Index mh.Multihash
}

// Find is every place the catalogue knows the block digest lies, a whole
// blob first.
func (c *Catalog) Find(ctx context.Context, digest mh.Multihash) ([]Location, error) {
	var out []Location
	if b, ok, err := c.Blob(ctx, digest); err != nil {
		return nil, err
	} else if ok {
		out = append(out, Location{Shard: digest, Here: true, Length: uint64(b.Size), ShardSize: b.Size})
	}
	rows, err := c.db.QueryContext(ctx, `
		SELECT sh.digest, b.id IS NOT NULL, s.offset, s.length, src.digest, s.source = s.shard, coalesce(b.size, 0)
		FROM slices s JOIN names sh ON sh.id = s.shard JOIN names src ON src.id = s.source
		LEFT JOIN blobs b ON b.id = s.shard
		WHERE s.digest = ? ORDER BY b.id IS NULL, sh.digest, s.offset`, []byte(digest))
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l Location
		var shard, source []byte
		var scanned bool
		if err := rows.Scan(&shard, &l.Here, &l.Offset, &l.Length, &source, &scanned, &l.ShardSize); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		l.Shard = shard
		if !scanned {
			l.Index = source
		}
		if len(out) > 0 && l.Index == nil && out[0].Length == l.Length && string(out[0].Shard) == string(shard) {
			continue // the shard's own slice: the whole blob, already said
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func parseRoots(s string) ([]cid.Cid, error) {
	var out []cid.Cid
	for _, f := range strings.Fields(s) {
		c, err := cid.Decode(f)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func formatRoots(roots []cid.Cid) string {
	parts := make([]string, len(roots))
	for i, r := range roots {
		parts[i] = r.String()
	}
	return strings.Join(parts, " ")
}

// writerLock is the lock one writer of a catalogue holds; others wait
// for nothing: they read.
type writerLock struct{ f *os.File }

// ErrBusy is matched when another process is refreshing the catalogue.
var ErrBusy = errors.New("catalog being refreshed by another process")

func (c *Catalog) lockWriter() (*writerLock, error) {
	f, err := lockfile.Take(c.path + ".lock")
	var held *lockfile.HeldError
	switch {
	case errors.As(err, &held):
		return nil, fmt.Errorf("%w (%s)", ErrBusy, held.Holder)
	case err != nil:
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return &writerLock{f}, nil
}

func (l *writerLock) release() { l.f.Close() }
