// Package pdpstate reads a Piri node's PDP state, <data_dir>/pdp/state/
// state.db (SQLite, gorm's schema of Piri's models, WAL mode, one
// connection in Piri), without harm beside a live Piri: it never creates
// a file in Piri's directory, opens read only, and keeps each read
// transaction to one statement so Piri's checkpoints are never starved.
package pdpstate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	mh "github.com/multiformats/go-multihash"
	"modernc.org/sqlite"
)

var (
	// ErrNoState: the data dir has no PDP state database.
	ErrNoState = errors.New("no PDP state (pdp/state/state.db)")
	// ErrNotPiri: the database is not Piri's PDP state.
	ErrNotPiri = errors.New("not Piri's PDP state schema")
)

// Path is where a data dir keeps its PDP state.
func Path(dataDir string) string { return filepath.Join(dataDir, "pdp", "state", "state.db") }

// DB is an open PDP state.
type DB struct {
	db   *sql.DB
	path string
	tmp  string // a private copy's directory, removed at Close
}

// The tables and columns storefs reads: a database without them is not
// Piri's (or a Piri too old or too new to read).
var needs = map[string][]string{
	"pdp_piece_mh_to_commp":  {"mhash", "size", "commp"},
	"pdp_proof_sets":         {"id", "proving_period", "challenge_window", "prove_at_epoch", "prev_challenge_request_epoch", "init_ready", "create_message_hash", "service", "challenge_request_msg_hash"},
	"pdp_proofset_roots":     {"proofset_id", "root_id", "subroot_offset", "root", "subroot", "subroot_size"},
	"pdp_proofset_root_adds": {"proofset_id", "root", "subroot", "subroot_offset", "subroot_size", "add_message_ok", "add_message_hash"},
	"task_history":           {"name", "result", "err", "work_end"},
}

// Open opens the PDP state of dataDir to read:
//   - no -wal and no -shm beside it: no writer runs (Piri checkpoints and
//     removes them when it stops); opened immutable, which creates nothing;
//   - a -shm: a live Piri (or one that died): read only through the
//     shared memory it keeps, which creates nothing either;
//   - a -wal without -shm: committed pages that a reader would have to
//     make a -shm for; the database and its WAL are copied to a private
//     directory and read there (as they were at Open).
//
// Each statement decides afresh, as the files stand then.
func Open(dataDir string) (*DB, error) {
	path := Path(dataDir)
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", path, ErrNoState)
		}
		return nil, fmt.Errorf("pdp state %s: %w", path, err)
	}
	d := &DB{path: path}
	if exists(path+"-wal") && !exists(path+"-shm") {
		tmp, err := os.MkdirTemp("", "storefs-pdpstate-")
		if err != nil {
			return nil, err
		}
		d.tmp = tmp
		for _, suffix := range []string{"", "-wal"} {
			if err := copyFile(path+suffix, filepath.Join(tmp, "state.db"+suffix)); err != nil {
				os.RemoveAll(tmp)
				return nil, fmt.Errorf("pdp state %s: a private copy: %w", path, err)
			}
		}
	}
	// A connection is opened as the files are at that moment, and reused
	// only while they stay so: a mount outlives Piri stopping and
	// starting, and an immutable connection would read a database Piri
	// has since changed under it (see conn.IsValid).
	d.db = sql.OpenDB(connector{d})
	d.db.SetMaxIdleConns(2)
	d.db.SetMaxOpenConns(4)
	if err := d.check(); err != nil {
		d.Close()
		return nil, fmt.Errorf("pdp state %s: %w", path, err)
	}
	return d, nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// connector opens each connection as the database's files are now.
type connector struct{ d *DB }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	state := c.d.state()
	dc, err := c.Driver().Open(c.d.dsn())
	if err != nil {
		return nil, err
	}
	return &conn{Conn: dc, d: c.d, state: state}, nil
}

// state is what a connection's validity rests on: which of -wal and -shm
// exist, and the database file's size and modification time (a Piri that
// started, wrote and stopped between two statements leaves no -wal but
// a changed file).
func (d *DB) state() string {
	if d.tmp != "" {
		return "copy"
	}
	fi, err := os.Stat(d.path)
	if err != nil {
		return "gone"
	}
	return fmt.Sprint(exists(d.path+"-wal"), exists(d.path+"-shm"), " ", fi.Size(), fi.ModTime().UnixNano())
}

// conn is a connection that database/sql reuses only while the files
// are as they were when it was opened. One read through a live Piri's
// -shm stays valid while the WAL changes: SQLite sees those changes.
type conn struct {
	driver.Conn
	d     *DB
	state string
}

var (
	_ driver.Validator          = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
)

func (c *conn) IsValid() bool {
	now := c.d.state()
	if now == c.state {
		return true
	}
	shm := func(s string) bool { return strings.HasPrefix(s, "true true ") || strings.HasPrefix(s, "false true ") }
	return shm(c.state) && shm(now)
}

// ResetSession is asked before an idle connection is reused: one the
// files have moved on from is bad, and database/sql opens another.
func (c *conn) ResetSession(ctx context.Context) error {
	if !c.IsValid() {
		return driver.ErrBadConn
	}
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *conn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c connector) Driver() driver.Driver { return sqliteDriver }

var sqliteDriver = &sqlite.Driver{}

// dsn is how to open the database now: a private copy as taken at Open;
// immutable when no writer runs (no -wal, no -shm: creates nothing);
// else read only through the -shm the writer keeps (creates nothing
// either).
func (d *DB) dsn() string {
	switch {
	case d.tmp != "":
		return "file:" + filepath.Join(d.tmp, "state.db") + "?mode=ro"
	case exists(d.path + "-shm"):
		return "file:" + d.path + "?mode=ro&_pragma=busy_timeout(5000)"
	}
	return "file:" + d.path + "?mode=ro&immutable=1"
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// check says what makes the database not Piri's PDP state.
func (d *DB) check() error {
	for table, cols := range needs {
		rows, err := d.db.Query(`SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			return explain(err)
		}
		have := map[string]bool{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return explain(err)
			}
			have[name] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return explain(err)
		}
		if len(have) == 0 {
			return fmt.Errorf("%w: no table %s", ErrNotPiri, table)
		}
		for _, c := range cols {
			if !have[c] {
				return fmt.Errorf("%w: table %s has no column %s", ErrNotPiri, table, c)
			}
		}
	}
	return nil
}

// explain words SQLite's errors for an operator.
func explain(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "database is locked"), strings.Contains(msg, "SQLITE_BUSY"):
		return fmt.Errorf("locked by a writer for more than 5 s (Piri checkpointing?); try again: %w", err)
	case strings.Contains(msg, "file is not a database"), strings.Contains(msg, "SQLITE_NOTADB"):
		return fmt.Errorf("%w: not an SQLite database: %w", ErrNotPiri, err)
	}
	return err
}

// Close closes the database and removes a private copy.
func (d *DB) Close() error {
	var err error
	if d.db != nil {
		err = d.db.Close()
	}
	if d.tmp != "" {
		os.RemoveAll(d.tmp)
	}
	return err
}

// File is the state database read.
func (d *DB) File() string { return d.path }

// ProofSet is a row of pdp_proof_sets: its id is the on-chain data set's.
type ProofSet struct {
	ID                        int64
	ProvingPeriod             int64 // epochs; 0: not set yet
	ChallengeWindow           int64
	ProveAtEpoch              int64 // the next challenge epoch; 0: none scheduled
	PrevChallengeRequestEpoch int64
	InitReady                 bool
	CreateMessageHash         string
	ChallengeRequestMsgHash   string
	Service                   string
}

// ProofSets is every proof set, by id.
func (d *DB) ProofSets(ctx context.Context) ([]ProofSet, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, coalesce(proving_period, 0), coalesce(challenge_window, 0), coalesce(prove_at_epoch, 0),
		coalesce(prev_challenge_request_epoch, 0), init_ready, create_message_hash, coalesce(challenge_request_msg_hash, ''), service
		FROM pdp_proof_sets ORDER BY id`)
	if err != nil {
		return nil, explain(err)
	}
	defer rows.Close()
	var out []ProofSet
	for rows.Next() {
		var p ProofSet
		if err := rows.Scan(&p.ID, &p.ProvingPeriod, &p.ChallengeWindow, &p.ProveAtEpoch, &p.PrevChallengeRequestEpoch, &p.InitReady,
			&p.CreateMessageHash, &p.ChallengeRequestMsgHash, &p.Service); err != nil {
			return nil, explain(err)
		}
		out = append(out, p)
	}
	return out, explain(rows.Err())
}

// Subroot is one row of pdp_proofset_roots: a piece (a blob's commP) in
// an on-chain root (an aggregate), offset and size in padded bytes.
type Subroot struct {
	ProofSet, RootID int64
	Root             string // the root's piece CID
	Piece            string // the subroot's piece CID
	Offset, Size     uint64
}

// Subroots yields a proof set's subroots by root id, then offset. A
// root's CID is the same string for all its subroots (one allocation a
// root, not a row: a million rows are read here).
func (d *DB) Subroots(ctx context.Context, proofSet int64, yield func(Subroot) bool) error {
	rows, err := d.db.QueryContext(ctx, `SELECT root_id, root, subroot, subroot_offset, coalesce(subroot_size, 0)
		FROM pdp_proofset_roots WHERE proofset_id = ? ORDER BY root_id, subroot_offset`, proofSet)
	if err != nil {
		return explain(err)
	}
	defer rows.Close()
	var root sql.RawBytes
	last := ""
	for rows.Next() {
		s := Subroot{ProofSet: proofSet}
		if err := rows.Scan(&s.RootID, &root, &s.Piece, &s.Offset, &s.Size); err != nil {
			return explain(err)
		}
		if string(root) != last {
			last = string(root)
		}
		s.Root = last
		if !yield(s) {
			return nil
		}
	}
	return explain(rows.Err())
}

// SubrootsOfPiece is every subroot of every proof set that is the piece
// (a scan: Piri keeps no index on subroot).
func (d *DB) SubrootsOfPiece(ctx context.Context, pieceCID string) ([]Subroot, error) {
	return d.subroots(ctx, `WHERE subroot = ? ORDER BY proofset_id, root_id, subroot_offset`, pieceCID)
}

// subroots is the subroot rows a WHERE (and ORDER BY) clause selects.
func (d *DB) subroots(ctx context.Context, where string, args ...any) ([]Subroot, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT proofset_id, root_id, root, subroot, subroot_offset, coalesce(subroot_size, 0)
		FROM pdp_proofset_roots `+where, args...)
	if err != nil {
		return nil, explain(err)
	}
	defer rows.Close()
	var out []Subroot
	for rows.Next() {
		var s Subroot
		if err := rows.Scan(&s.ProofSet, &s.RootID, &s.Root, &s.Piece, &s.Offset, &s.Size); err != nil {
			return nil, explain(err)
		}
		out = append(out, s)
	}
	return out, explain(rows.Err())
}

// RootRef names a root of a proof set.
type RootRef struct{ ProofSet, RootID int64 }

// RootsOf is every root whose piece CID is root: where an aggregate was
// added (once, unless it was added again after a repair).
func (d *DB) RootsOf(ctx context.Context, root string) ([]RootRef, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT DISTINCT proofset_id, root_id FROM pdp_proofset_roots WHERE root = ? ORDER BY proofset_id, root_id`, root)
	if err != nil {
		return nil, explain(err)
	}
	defer rows.Close()
	var out []RootRef
	for rows.Next() {
		var r RootRef
		if err := rows.Scan(&r.ProofSet, &r.RootID); err != nil {
			return nil, explain(err)
		}
		out = append(out, r)
	}
	return out, explain(rows.Err())
}

// PieceByCID is the blob Piri recorded for a piece; ok is false for a
// piece no row names (a scan: Piri keeps no index on commp).
func (d *DB) PieceByCID(ctx context.Context, pieceCID string) (p Piece, ok bool, err error) {
	err = d.db.QueryRowContext(ctx, `SELECT mhash, size, commp FROM pdp_piece_mh_to_commp WHERE commp = ? LIMIT 1`, pieceCID).Scan(&p.Digest, &p.Size, &p.CID)
	if errors.Is(err, sql.ErrNoRows) {
		return Piece{}, false, nil
	}
	if err != nil {
		return Piece{}, false, explain(err)
	}
	return p, true, nil
}

// RootIDs yields a proof set's root ids, in order.
func (d *DB) RootIDs(ctx context.Context, proofSet int64, yield func(int64) bool) error {
	rows, err := d.db.QueryContext(ctx, `SELECT DISTINCT root_id FROM pdp_proofset_roots WHERE proofset_id = ? ORDER BY root_id`, proofSet)
	if err != nil {
		return explain(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return explain(err)
		}
		if !yield(id) {
			return nil
		}
	}
	return explain(rows.Err())
}

// RootSubroots is one root's subroots, by offset.
func (d *DB) RootSubroots(ctx context.Context, proofSet, rootID int64) ([]Subroot, error) {
	return d.subroots(ctx, `WHERE proofset_id = ? AND root_id = ? ORDER BY subroot_offset`, proofSet, rootID)
}

// RootAdd is a subroot of a root add not yet moved into the roots.
type RootAdd struct {
	ProofSet       int64
	Root, Piece    string
	Offset, Size   uint64
	AddMessageHash string
	// Failed: the add transaction failed (add_message_ok = 0): Piri will
	// not retry it. Pending: not confirmed yet.
	Failed, Pending bool
}

// RootAdds yields the root adds of every proof set.
func (d *DB) RootAdds(ctx context.Context, yield func(RootAdd) bool) error {
	rows, err := d.db.QueryContext(ctx, `SELECT proofset_id, root, subroot, subroot_offset, coalesce(subroot_size, 0), coalesce(add_message_hash, ''), add_message_ok
		FROM pdp_proofset_root_adds ORDER BY proofset_id, root, subroot_offset`)
	if err != nil {
		return explain(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a RootAdd
		var ok sql.NullBool
		if err := rows.Scan(&a.ProofSet, &a.Root, &a.Piece, &a.Offset, &a.Size, &a.AddMessageHash, &ok); err != nil {
			return explain(err)
		}
		a.Pending, a.Failed = !ok.Valid, ok.Valid && !ok.Bool
		if !yield(a) {
			return nil
		}
	}
	return explain(rows.Err())
}

// Piece is a row of pdp_piece_mh_to_commp: a blob and its commP.
type Piece struct {
	Digest mh.Multihash
	Size   int64
	CID    string // piece CID v2
}

// PieceOf is the commP Piri recorded for a blob; ok is false for a blob
// it has none for.
func (d *DB) PieceOf(ctx context.Context, digest mh.Multihash) (p Piece, ok bool, err error) {
	err = d.db.QueryRowContext(ctx, `SELECT mhash, size, commp FROM pdp_piece_mh_to_commp WHERE mhash = ?`, []byte(digest)).Scan(&p.Digest, &p.Size, &p.CID)
	if errors.Is(err, sql.ErrNoRows) {
		return Piece{}, false, nil
	}
	if err != nil {
		return Piece{}, false, explain(err)
	}
	return p, true, nil
}

// Pieces yields every recorded commP. Piri keeps no index on commp: a
// reader that resolves piece CIDs to blobs reads them all once.
func (d *DB) Pieces(ctx context.Context, yield func(Piece) bool) error {
	rows, err := d.db.QueryContext(ctx, `SELECT mhash, size, commp FROM pdp_piece_mh_to_commp`)
	if err != nil {
		return explain(err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Piece
		if err := rows.Scan(&p.Digest, &p.Size, &p.CID); err != nil {
			return explain(err)
		}
		if !yield(p) {
			return nil
		}
	}
	return explain(rows.Err())
}

// Failure is a failed PDPProve task.
type Failure struct {
	At  string `json:"at"` // work_end as stored
	Err string `json:"err"`
}

// ProveFailures is a proof set's last failed PDPProve tasks, newest
// first. task_history has no proof set column: Piri's error text names
// it ("dataSetId: N,").
func (d *DB) ProveFailures(ctx context.Context, proofSet int64, limit int) ([]Failure, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT work_end, coalesce(err, '') FROM task_history
		WHERE name = 'PDPProve' AND NOT result AND (err LIKE ? OR err LIKE ?) ORDER BY work_end DESC LIMIT ?`,
		fmt.Sprintf("%%dataSetId: %d,%%", proofSet), fmt.Sprintf("%%dataSetId: %d)%%", proofSet), limit)
	if err != nil {
		return nil, explain(err)
	}
	defer rows.Close()
	var out []Failure
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.At, &f.Err); err != nil {
			return nil, explain(err)
		}
		out = append(out, f)
	}
	return out, explain(rows.Err())
}
