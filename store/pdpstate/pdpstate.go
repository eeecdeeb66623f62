// Package pdpstate reads a Piri node's PDP state, <data_dir>/pdp/state/
// state.db (SQLite, gorm's schema of Piri's models, WAL mode, one
// connection in Piri), without harm beside a live Piri: it never creates
// a file in Piri's directory, opens read only, and keeps each read
// transaction to one statement so Piri's checkpoints are never starved.
package pdpstate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/pgread"
	"github.com/storacha/storefs/store/sqliteread"
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
	db    *sql.DB
	close func() error
	path  string // the file, or the redacted URL
	pg    bool   // PostgreSQL: ? placeholders are rebound
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

// Open opens the PDP state of dataDir to read, without harm beside a
// live Piri (sqliteread).
func Open(dataDir string) (*DB, error) {
	path := Path(dataDir)
	db, err := sqliteread.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoState)
	}
	if err != nil {
		return nil, fmt.Errorf("pdp state %s: %w", path, err)
	}
	if err := db.Check(needs); err != nil {
		db.Close()
		if errors.Is(err, sqliteread.ErrSchema) {
			err = fmt.Errorf("%w: %w", ErrNotPiri, err)
		}
		return nil, fmt.Errorf("pdp state %s: %w", path, err)
	}
	return &DB{db: db.DB, close: db.Close, path: path}, nil
}

// Schema is the PostgreSQL schema Piri keeps its PDP state in.
const Schema = "scheduler"

// OpenPostgres opens the PDP state of a node whose [repo.database] is
// PostgreSQL, at url (pgread: read-only transactions, the password never
// shown).
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	db, err := pgread.Open(ctx, url, Schema)
	if err != nil {
		return nil, fmt.Errorf("pdp state: %w", err)
	}
	where := pgread.Redact(url) + " schema " + Schema
	if err := pgread.Check(ctx, db, needs); err != nil {
		db.Close()
		if errors.Is(err, pgread.ErrSchema) {
			err = fmt.Errorf("%w: %w", ErrNotPiri, err)
		}
		return nil, fmt.Errorf("pdp state %s: %w", where, err)
	}
	return &DB{db: db, close: db.Close, path: where, pg: true}, nil
}

// query and queryRow run a statement written with ? placeholders.
func (d *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if d.pg {
		q = pgread.Rebind(q)
	}
	return d.db.QueryContext(ctx, q, args...)
}

func (d *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if d.pg {
		q = pgread.Rebind(q)
	}
	return d.db.QueryRowContext(ctx, q, args...)
}

// explain words SQLite's errors for an operator.
func explain(err error) error { return sqliteread.Explain(err) }

// Close closes the database.
func (d *DB) Close() error { return d.close() }

// File is the state database read: its file, or its redacted URL and
// schema.
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
	rows, err := d.query(ctx, `SELECT id, coalesce(proving_period, 0), coalesce(challenge_window, 0), coalesce(prove_at_epoch, 0),
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
	rows, err := d.query(ctx, `SELECT root_id, root, subroot, subroot_offset, coalesce(subroot_size, 0)
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
	rows, err := d.query(ctx, `SELECT proofset_id, root_id, root, subroot, subroot_offset, coalesce(subroot_size, 0)
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
type RootRef struct {
	ProofSet int64 `json:"proofset"`
	RootID   int64 `json:"root_id"`
}

// Roots yields every root of every proof set with its piece CID: where
// each aggregate was added (one scan, where RootsOf scans per root).
func (d *DB) Roots(ctx context.Context, yield func(root string, ref RootRef) bool) error {
	rows, err := d.query(ctx, `SELECT DISTINCT proofset_id, root_id, root FROM pdp_proofset_roots ORDER BY proofset_id, root_id`)
	if err != nil {
		return explain(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r RootRef
		var root string
		if err := rows.Scan(&r.ProofSet, &r.RootID, &root); err != nil {
			return explain(err)
		}
		if !yield(root, r) {
			return nil
		}
	}
	return explain(rows.Err())
}

// PieceByCID is the blob Piri recorded for a piece; ok is false for a
// piece no row names (a scan: Piri keeps no index on commp).
func (d *DB) PieceByCID(ctx context.Context, pieceCID string) (p Piece, ok bool, err error) {
	err = d.queryRow(ctx, `SELECT mhash, size, commp FROM pdp_piece_mh_to_commp WHERE commp = ? LIMIT 1`, pieceCID).Scan(&p.Digest, &p.Size, &p.CID)
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
	rows, err := d.query(ctx, `SELECT DISTINCT root_id FROM pdp_proofset_roots WHERE proofset_id = ? ORDER BY root_id`, proofSet)
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
	rows, err := d.query(ctx, `SELECT proofset_id, root, subroot, subroot_offset, coalesce(subroot_size, 0), coalesce(add_message_hash, ''), add_message_ok
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
	err = d.queryRow(ctx, `SELECT mhash, size, commp FROM pdp_piece_mh_to_commp WHERE mhash = ?`, []byte(digest)).Scan(&p.Digest, &p.Size, &p.CID)
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
	rows, err := d.query(ctx, `SELECT mhash, size, commp FROM pdp_piece_mh_to_commp`)
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
	At  string `json:"at"` // work_end, UTC, RFC 3339
	Err string `json:"err"`
}

// ProveFailures is a proof set's last failed PDPProve tasks, newest
// first. task_history has no proof set column: Piri's error text names
// it ("dataSetId: N,").
func (d *DB) ProveFailures(ctx context.Context, proofSet int64, limit int) ([]Failure, error) {
	rows, err := d.query(ctx, `SELECT work_end, coalesce(err, '') FROM task_history
		WHERE name = 'PDPProve' AND NOT result AND (err LIKE ? OR err LIKE ?) ORDER BY work_end DESC LIMIT ?`,
		fmt.Sprintf("%%dataSetId: %d,%%", proofSet), fmt.Sprintf("%%dataSetId: %d)%%", proofSet), limit)
	if err != nil {
		return nil, explain(err)
	}
	defer rows.Close()
	var out []Failure
	for rows.Next() {
		var f Failure
		var at any
		if err := rows.Scan(&at, &f.Err); err != nil {
			return nil, explain(err)
		}
		f.At = normTime(at)
		out = append(out, f)
	}
	return out, explain(rows.Err())
}

// normTime is a stored time in UTC, RFC 3339: SQLite keeps gorm's text,
// PostgreSQL a timestamp; both read the same.
func normTime(v any) string {
	switch v := v.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case []byte:
		return normTime(string(v))
	case string:
		for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t.UTC().Format(time.RFC3339Nano)
			}
		}
		return v
	}
	return fmt.Sprint(v)
}
