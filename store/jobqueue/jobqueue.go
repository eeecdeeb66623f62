// Package jobqueue reads the job queues of a Piri node's PDP aggregator
// (lib/jobqueue at v0.2.4): <data_dir>/aggregator/jobqueue/jobqueue.db,
// SQLite in WAL mode, read without harm beside a live Piri (sqliteread).
//
// Three queues feed a blob into a proof set: compute_commp (a blob's
// multihash), aggregate_piece (a piece link; a queue that never runs a
// piece twice) and add_roots (the aggregates to add). A job that fails
// for good, or 50 times, is moved to the queue's dead letters with its
// error. Two table layouts hold them: jobqueue/jobqueue_dead (a goqite
// queue: compute_commp, manager) and jobs/job_dead with job_ns (the
// deduplicating queue: aggregator). A job's body is JSON, {"name": task,
// "message": base64 of the payload's dag-cbor}.
package jobqueue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/pgread"
	"github.com/storacha/storefs/store/sqliteread"
)

// The tasks Piri's PDP pipeline queues.
const (
	Commp     = "compute_commp"
	Aggregate = "aggregate_piece"
	AddRoots  = "add_roots"
)

// Path is where a data dir keeps the aggregator's job queues.
func Path(dataDir string) string {
	return filepath.Join(dataDir, "aggregator", "jobqueue", "jobqueue.db")
}

var (
	// ErrNone: the data dir has no job queue database.
	ErrNone = errors.New("no aggregator job queues (aggregator/jobqueue/jobqueue.db)")
	// ErrNotPiri: the database is not Piri's job queues.
	ErrNotPiri = errors.New("not Piri's job queue schema")
)

// Job is a job waiting in a queue, or dead.
type Job struct {
	Task     string
	Dead     bool
	Attempts int64
	Reason   string // dead: permanent_error or max_retries
	Error    string // dead: the handler's last error
	// At is when it was queued, or moved to the dead letters.
	At      time.Time
	Message []byte // the payload's dag-cbor
}

// Blob is a compute_commp job's blob.
func (j Job) Blob() (mh.Multihash, error) {
	n, err := ipldutil.DecodeCBOR(j.Message)
	if err != nil {
		return nil, fmt.Errorf("%s job: %w", j.Task, err)
	}
	b, err := n.AsBytes()
	if err != nil {
		return nil, fmt.Errorf("%s job: %w", j.Task, err)
	}
	d, err := mh.Cast(b)
	if err != nil {
		return nil, fmt.Errorf("%s job: %w", j.Task, err)
	}
	return d, nil
}

// Piece is an aggregate_piece job's piece.
func (j Job) Piece() (cid.Cid, error) {
	n, err := ipldutil.DecodeCBOR(j.Message)
	if err != nil {
		return cid.Undef, fmt.Errorf("%s job: %w", j.Task, err)
	}
	return ipldutil.AsLink(n, j.Task+" job")
}

// Aggregates are an add_roots job's aggregates.
func (j Job) Aggregates() ([]cid.Cid, error) {
	n, err := ipldutil.DecodeCBOR(j.Message)
	if err != nil {
		return nil, fmt.Errorf("%s job: %w", j.Task, err)
	}
	if n.Kind() != datamodel.Kind_List {
		return nil, fmt.Errorf("%s job: expected a list, found %s", j.Task, n.Kind())
	}
	var out []cid.Cid
	for it := n.ListIterator(); !it.Done(); {
		_, v, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("%s job: %w", j.Task, err)
		}
		c, err := ipldutil.AsLink(v, j.Task+" job")
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// DB is an open job queue database.
type DB struct {
	db    *sql.DB
	close func() error
	path  string // the file, or the redacted URL and schema
	dedup bool   // the deduplicating queue's tables exist
}

var needs = map[string][]string{
	"jobqueue":      {"queue", "body", "received", "created"},
	"jobqueue_dead": {"queue", "body", "received", "job_name", "failure_reason", "error_message", "moved_at"},
}

var needsDedup = map[string][]string{
	"job_ns":   {"id", "queue", "name"},
	"jobs":     {"ns_id", "body", "attempts", "created_s"},
	"job_dead": {"ns_id", "body", "attempts", "reason", "error", "moved_s"},
}

// Open opens dataDir's job queues to read.
func Open(dataDir string) (*DB, error) {
	path := Path(dataDir)
	db, err := sqliteread.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNone)
	}
	if err != nil {
		return nil, fmt.Errorf("job queues %s: %w", path, err)
	}
	d := &DB{db: db.DB, close: db.Close, path: path}
	if err := db.Check(needs); err != nil {
		db.Close()
		if errors.Is(err, sqliteread.ErrSchema) {
			err = fmt.Errorf("%w: %w", ErrNotPiri, err)
		}
		return nil, fmt.Errorf("job queues %s: %w", path, err)
	}
	// A Piri that never made the aggregator's queue has no dedup tables.
	d.dedup = db.Check(needsDedup) == nil
	return d, nil
}

// Schema is the PostgreSQL schema Piri keeps its job queues in.
const Schema = "aggregator"

// OpenPostgres opens the job queues of a node whose [repo.database] is
// PostgreSQL, at url (pgread).
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	db, err := pgread.Open(ctx, url, Schema)
	if err != nil {
		return nil, fmt.Errorf("job queues: %w", err)
	}
	d := &DB{db: db, close: db.Close, path: pgread.Redact(url) + " schema " + Schema}
	if err := pgread.Check(ctx, db, needs); err != nil {
		db.Close()
		if errors.Is(err, pgread.ErrSchema) {
			err = fmt.Errorf("%w: %w", ErrNotPiri, err)
		}
		return nil, fmt.Errorf("job queues %s: %w", d.path, err)
	}
	d.dedup = pgread.Check(ctx, db, needsDedup) == nil
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.close() }

// File is the database read.
func (d *DB) File() string { return d.path }

// body is a job's body as Piri's worker writes it.
type body struct {
	Name    string `json:"name"`
	Message []byte `json:"message"`
}

// source is a table's jobs: a statement yielding body, attempts, time,
// reason and error.
type source struct {
	dead bool
	sql  string
}

// Jobs yields every job of the pipeline's queues, waiting or dead: one
// statement per table, each read to its end.
func (d *DB) Jobs(ctx context.Context, yield func(Job) bool) error {
	queries := []source{
		{false, `SELECT body, received, created, '', '' FROM jobqueue`},
		{true, `SELECT body, received, moved_at, failure_reason, error_message FROM jobqueue_dead`},
	}
	if d.dedup {
		queries = append(queries,
			source{false, `SELECT body, attempts, created_s, '', '' FROM jobs`},
			source{true, `SELECT body, attempts, moved_s, reason, error FROM job_dead`})
	}
	for _, q := range queries {
		stop, err := d.each(ctx, q.sql, q.dead, yield)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

func (d *DB) each(ctx context.Context, query string, dead bool, yield func(Job) bool) (stop bool, err error) {
	rows, err := d.db.QueryContext(ctx, query)
	if err != nil {
		return false, fmt.Errorf("job queues %s: %w", d.path, sqliteread.Explain(err))
	}
	defer rows.Close()
	for rows.Next() {
		var raw []byte
		var at any
		j := Job{Dead: dead}
		if err := rows.Scan(&raw, &j.Attempts, &at, &j.Reason, &j.Error); err != nil {
			return false, fmt.Errorf("job queues %s: %w", d.path, sqliteread.Explain(err))
		}
		var b body
		if err := json.Unmarshal(raw, &b); err != nil {
			return false, fmt.Errorf("job queues %s: a job's body: %w", d.path, err)
		}
		j.Task, j.Message = b.Name, b.Message
		j.At = when(at)
		if !yield(j) {
			return true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("job queues %s: %w", d.path, sqliteread.Explain(err))
	}
	return false, nil
}

// when reads the queues' times: goqite's text (UTC, milliseconds), the
// dedup queue's epoch seconds.
func when(v any) time.Time {
	switch v := v.(type) {
	case time.Time:
		return v.UTC()
	case int64:
		return time.Unix(v, 0).UTC()
	case string:
		t, _ := time.Parse("2006-01-02T15:04:05.000Z", v)
		return t
	case []byte:
		t, _ := time.Parse("2006-01-02T15:04:05.000Z", string(v))
		return t
	}
	return time.Time{}
}
