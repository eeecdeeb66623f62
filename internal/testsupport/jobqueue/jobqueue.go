// Package jobqueue writes a Piri node's aggregator job queues for tests,
// as Piri v0.2.4's lib/jobqueue leaves them: schema.sql is the schema its
// own code created (scripts/piri-aggregator wrote it), and bodies are encoded as its worker
// encodes them (checked against the golden rows).
package jobqueue

import (
	"crypto/sha256"
	"database/sql"
	_ "embed"
	"encoding/json"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver
	mh "github.com/multiformats/go-multihash"
	_ "modernc.org/sqlite"

	"github.com/storacha/storefs/internal/testsupport/pgtest"
	"github.com/storacha/storefs/store/ipldutil"
	reader "github.com/storacha/storefs/store/jobqueue"
)

//go:embed schema.sql
var schema string

// Writer writes one jobqueue.db, or Piri's aggregator schema in
// PostgreSQL.
type Writer struct {
	db *sql.DB
	pg bool
}

// OpenPostgres writes the job queues in the database at url, whose
// aggregator schema is made (testsupport/pdpstate.CreatePostgres makes
// both of Piri's schemas).
func OpenPostgres(url string) (*Writer, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", reader.Schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return nil, err
	}
	return &Writer{db: db, pg: true}, nil
}

// exec runs a statement written for SQLite (see testsupport/pdpstate).
func (w *Writer) exec(q string, args ...any) (sql.Result, error) {
	if w.pg {
		q = pgtest.Statement(q)
	}
	return w.db.Exec(q, args...)
}

// Create makes dataDir's job queue database, in WAL mode as Piri opens it.
func Create(dataDir string) (*Writer, error) {
	path := reader.Path(dataDir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("job queue schema: %w", err)
	}
	return &Writer{db: db}, nil
}

// DB is the database, for a test that writes rows of its own.
func (w *Writer) DB() *sql.DB { return w.db }

// Close closes the database (a checkpoint removes the WAL).
func (w *Writer) Close() error { return w.db.Close() }

// CommpPayload is a compute_commp job's payload: the blob's multihash.
func CommpPayload(blob mh.Multihash) ([]byte, error) {
	return ipldutil.EncodeCBOR(basicnode.NewBytes(blob))
}

// PiecePayload is an aggregate_piece job's payload: the piece's link.
func PiecePayload(piece cid.Cid) ([]byte, error) {
	return ipldutil.EncodeCBOR(basicnode.NewLink(ipldutil.Link(piece)))
}

// AddRootsPayload is an add_roots job's payload: the aggregates' links.
func AddRootsPayload(aggregates []cid.Cid) ([]byte, error) {
	n, err := qp.BuildList(basicnode.Prototype.Any, int64(len(aggregates)), func(la datamodel.ListAssembler) {
		for _, a := range aggregates {
			qp.ListEntry(la, qp.Link(ipldutil.Link(a)))
		}
	})
	if err != nil {
		return nil, err
	}
	return ipldutil.EncodeCBOR(n)
}

// Body is a job's body as Piri's worker writes it: JSON and a newline.
func Body(task string, payload []byte) []byte {
	b, _ := json.Marshal(struct {
		Name    string `json:"name"`
		Message []byte `json:"message"`
	}{task, payload})
	return append(b, '\n')
}

// queueOf is the goqite queue a task's jobs are in ("" for the
// deduplicating aggregator queue).
func queueOf(task string) string {
	switch task {
	case reader.Commp:
		return reader.Commp
	case reader.AddRoots:
		return "manager"
	}
	return ""
}

// Dead describes a dead-lettered job; nil: the job is queued.
type Dead struct {
	Reason string // permanent_error, max_retries
	Error  string
}

// Add writes a job of task with payload into the table Piri keeps it in,
// queued at at, or dead.
func (w *Writer) Add(task string, payload []byte, at time.Time, attempts int, dead *Dead) error {
	body := Body(task, payload)
	var stamp any = at.UTC().Format("2006-01-02T15:04:05.000Z")
	if w.pg {
		stamp = at.UTC()
	}
	if q := queueOf(task); q != "" {
		id := fmt.Sprintf("m_%x", sha256.Sum256(append([]byte(at.String()), body...)))[:34]
		if dead == nil {
			_, err := w.exec(`INSERT INTO jobqueue (id, created, updated, queue, body, timeout, received) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				id, stamp, stamp, q, body, stamp, attempts)
			return err
		}
		_, err := w.exec(`INSERT INTO jobqueue_dead (id, created, updated, queue, body, timeout, received, job_name, failure_reason, error_message, moved_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, stamp, stamp, q, body, stamp, attempts, task, dead.Reason, dead.Error, stamp)
		return err
	}
	if _, err := w.exec(`INSERT OR IGNORE INTO queues (queue, dedupe_enabled) VALUES ('aggregator', 1)`); err != nil {
		return err
	}
	if _, err := w.exec(`INSERT OR IGNORE INTO job_ns (queue, name) VALUES ('aggregator', ?)`, task); err != nil {
		return err
	}
	var ns int64
	nsQuery := `SELECT id FROM job_ns WHERE queue = 'aggregator' AND name = ?`
	if w.pg {
		nsQuery = pgtest.Statement(nsQuery)
	}
	if err := w.db.QueryRow(nsQuery, task).Scan(&ns); err != nil {
		return err
	}
	key := sha256.Sum256(payload)
	if dead == nil {
		_, err := w.exec(`INSERT INTO jobs (ns_id, key, body, created_s, avail_s, attempts) VALUES (?, ?, ?, ?, ?, ?)`,
			ns, key[:], body, at.Unix(), at.Unix(), attempts)
		return err
	}
	_, err := w.exec(`INSERT INTO job_dead (ns_id, key, body, attempts, reason, error, moved_s) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		ns, key[:], body, attempts, dead.Reason, dead.Error, at.Unix())
	return err
}

// Insert writes a row as it stands (the golden rows).
func (w *Writer) Insert(table string, row map[string]any) error {
	var cols, marks []string
	var args []any
	for c, v := range row {
		cols = append(cols, `"`+c+`"`)
		marks = append(marks, "?")
		args = append(args, v)
	}
	_, err := w.db.Exec(fmt.Sprintf(`INSERT INTO "%s" (%s) VALUES (%s)`, table, strings.Join(cols, ", "), strings.Join(marks, ", ")), args...)
	return err
}
