// Package pdpstate writes a Piri v0.2.4 PDP state database
// (<data_dir>/pdp/state/state.db) for tests, with none of storefs's own
// code: the schema Piri's gorm creates (schema.sql, made by
// scripts/piri-schema from Piri's models) and rows as Piri's PDP service
// writes them. Pieces are blobs' commPs (go-fil-commp-hashhash, the
// library Piri uses); a root aggregates its subroots as Piri lays them
// out: sizes descending, offsets cumulative in padded bytes, the root
// padded to the next power of two. A root's own digest is not a real
// aggregate commP (storefs never recomputes one), only its size is.
package pdpstate

import (
	"crypto/sha256"
	"database/sql"
	_ "embed"
	"fmt"
	"math/bits"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	commcid "github.com/filecoin-project/go-fil-commcid"
	commp "github.com/filecoin-project/go-fil-commp-hashhash"
	"github.com/ipfs/go-cid"
	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver
	mh "github.com/multiformats/go-multihash"
	_ "modernc.org/sqlite"

	"github.com/storacha/storefs/internal/testsupport/pgtest"
)

//go:embed schema.sql
var schema string

// Piece is a blob as PDP knows it.
type Piece struct {
	Digest mh.Multihash
	Size   int64
	CID    cid.Cid // piece CID v2
	Padded uint64
}

// PieceOf is the piece of a blob's bytes (at least 127 of them).
func PieceOf(data []byte) (Piece, error) {
	d, _ := mh.Sum(data, mh.SHA2_256, -1)
	var cp commp.Calc
	cp.Write(data)
	digest, padded, err := cp.Digest()
	if err != nil {
		return Piece{}, err
	}
	pc, err := commcid.DataCommitmentToPieceCidv2(digest, uint64(len(data)))
	if err != nil {
		return Piece{}, err
	}
	return Piece{Digest: d, Size: int64(len(data)), CID: pc, Padded: padded}, nil
}

// Writer writes one state.db.
type Writer struct {
	db   *sql.DB
	Path string
	task int64
	pg   bool // PostgreSQL: statements are rebound
}

//go:embed schema.postgres.sql
var schemaPostgres string

// CreatePostgres makes Piri's PostgreSQL schemas (scheduler: the PDP
// state; aggregator: the job queues) in the database at url, as its own
// code made them (schema.postgres.sql, which scripts/piri-aggregator
// wrote), and writes the PDP state there.
func CreatePostgres(url string) (*Writer, error) {
	// pg_dump's preamble empties the search path: the schema is made on
	// a connection of its own.
	ddl, err := sql.Open("pgx", withParams(url, "default_query_exec_mode", "simple_protocol"))
	if err != nil {
		return nil, err
	}
	_, err = ddl.Exec(schemaPostgres)
	ddl.Close()
	if err != nil {
		return nil, fmt.Errorf("postgres schema: %w", err)
	}
	db, err := sql.Open("pgx", withParams(url, "search_path", "scheduler"))
	if err != nil {
		return nil, err
	}
	return &Writer{db: db, Path: url, pg: true}, nil
}

// withParams adds a connection parameter to a URL.
func withParams(raw, key, value string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs a statement written for SQLite: in PostgreSQL, ? becomes $n
// and INSERT OR IGNORE an ON CONFLICT DO NOTHING.
func (w *Writer) exec(q string, args ...any) (sql.Result, error) {
	if w.pg {
		q = pgtest.Statement(q)
	}
	return w.db.Exec(q, args...)
}

// Create makes <dataDir>/pdp/state/state.db with Piri's schema, in WAL
// mode as Piri opens it.
func Create(dataDir string) (*Writer, error) {
	w, err := Open(dataDir)
	if err != nil {
		return nil, err
	}
	if _, err := w.db.Exec(schema); err != nil {
		w.db.Close()
		return nil, fmt.Errorf("schema: %w", err)
	}
	return w, nil
}

// Open opens an existing state.db as Piri does (WAL, one connection).
func Open(dataDir string) (*Writer, error) {
	dir := filepath.Join(dataDir, "pdp", "state")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "state.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // as Piri: one connection
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return &Writer{db: db, Path: path}, nil
}

// DB is the open database, for a test that holds a transaction open as a
// running Piri would.
func (w *Writer) DB() *sql.DB { return w.db }

// Close closes the database (Piri stopping: the WAL is checkpointed and
// removed).
func (w *Writer) Close() error { return w.db.Close() }

// AddPiece records a blob's commP (pdp_piece_mh_to_commp), as Piri does
// when it computes one.
func (w *Writer) AddPiece(p Piece) error {
	_, err := w.exec("INSERT INTO pdp_piece_mh_to_commp (mhash, size, commp) VALUES (?, ?, ?)", []byte(p.Digest), p.Size, p.CID.String())
	return err
}

// ProofSet is a proof set's row.
type ProofSet struct {
	ID                                      int64
	ProvingPeriod, ChallengeWindow, ProveAt int64
	PrevChallengeRequestEpoch               int64
	InitReady                               bool
}

// AddProofSet records a proof set.
func (w *Writer) AddProofSet(ps ProofSet) error {
	tx := fmt.Sprintf("0xcreate%d", ps.ID)
	if err := w.message(tx, true); err != nil {
		return err
	}
	_, err := w.exec(`INSERT INTO pdp_proof_sets (id, prev_challenge_request_epoch, proving_period, challenge_window, prove_at_epoch, init_ready, create_message_hash, service)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'storacha')`, ps.ID, ps.PrevChallengeRequestEpoch, ps.ProvingPeriod, ps.ChallengeWindow, ps.ProveAt, ps.InitReady, tx)
	return err
}

func (w *Writer) message(hash string, ok bool) error {
	_, err := w.exec(`INSERT OR IGNORE INTO message_waits_eth (signed_tx_hash, tx_status, tx_success) VALUES (?, 'confirmed', ?)`, hash, ok)
	return err
}

// Subroot is where a piece lies in a root.
type Subroot struct {
	Piece  Piece
	Offset uint64 // padded bytes from the root's start
}

// Layout lays pieces out in a root as Piri does: largest first, each at
// the sum of the padded sizes before it; the root's padded size is the
// next power of two of their sum.
func Layout(pieces []Piece) ([]Subroot, uint64) {
	sorted := slices.Clone(pieces)
	slices.SortStableFunc(sorted, func(a, b Piece) int { return int(int64(b.Padded) - int64(a.Padded)) })
	var out []Subroot
	var off uint64
	for _, p := range sorted {
		out = append(out, Subroot{Piece: p, Offset: off})
		off += p.Padded
	}
	return out, nextPow2(off)
}

func nextPow2(n uint64) uint64 {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len64(n-1)
}

// RootCID is a piece CID v2 of the given padded size, its digest derived
// from seed (no real aggregate).
func RootCID(padded uint64, seed string) cid.Cid {
	root := sha256.Sum256([]byte(seed))
	root[31] &= 0x3f // fr32: the top two bits of the last byte are zero
	c, err := commcid.DataCommitmentToPieceCidv2(root[:], padded/128*127)
	if err != nil {
		panic(err)
	}
	return c
}

// AddRoot records an on-chain root of a proof set made of pieces, each
// subroot a row of pdp_proofset_roots, added by one confirmed message.
// It returns the root's CID and its subroots as written.
func (w *Writer) AddRoot(proofSet, rootID int64, pieces []Piece) (cid.Cid, []Subroot, error) {
	subs, padded := Layout(pieces)
	root := RootCID(padded, fmt.Sprint(proofSet, "/", rootID))
	tx := fmt.Sprintf("0xadd%d-%d", proofSet, rootID)
	if err := w.message(tx, true); err != nil {
		return cid.Undef, nil, err
	}
	for _, s := range subs {
		if err := w.AddSubroot(proofSet, rootID, root, tx, s); err != nil {
			return cid.Undef, nil, err
		}
	}
	return root, subs, nil
}

// AddSubroot writes one subroot row as it stands (a test making offsets
// that are not cumulative writes them one by one).
func (w *Writer) AddSubroot(proofSet, rootID int64, root cid.Cid, tx string, s Subroot) error {
	if err := w.message(tx, true); err != nil {
		return err
	}
	_, err := w.exec(`INSERT INTO pdp_proofset_roots (proofset_id, root_id, subroot_offset, root, add_message_hash, add_message_index, subroot, subroot_offset_val, subroot_size)
		VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)`, proofSet, rootID, s.Offset, root.String(), tx, s.Piece.CID.String(), s.Offset, s.Piece.Padded)
	return err
}

// AddRootAdd records a root add not yet moved into the roots: ok nil is
// pending, false failed (Piri retries it no more).
func (w *Writer) AddRootAdd(proofSet int64, pieces []Piece, ok *bool) (cid.Cid, error) {
	subs, padded := Layout(pieces)
	root := RootCID(padded, fmt.Sprint(proofSet, "/pending/", len(pieces)))
	tx := fmt.Sprintf("0xpending%d-%s", proofSet, root)
	if err := w.message(tx, ok == nil || *ok); err != nil {
		return cid.Undef, err
	}
	for _, s := range subs {
		if _, err := w.exec(`INSERT INTO pdp_proofset_root_adds (proofset_id, add_message_hash, subroot_offset, root, add_message_ok, add_message_index, subroot, subroot_size)
			VALUES (?, ?, ?, ?, ?, 0, ?, ?)`, proofSet, tx, s.Offset, root.String(), ok, s.Piece.CID.String(), s.Piece.Padded); err != nil {
			return cid.Undef, err
		}
	}
	return root, nil
}

// AddProveFailure records a failed PDPProve task as Piri's task engine
// does: task_history has no proof set column; the error names it, as
// prove_pdp.go words it.
func (w *Writer) AddProveFailure(dataSetID, pieceID int64, at time.Time, msg string) error {
	w.task++
	_, err := w.exec(`INSERT INTO task_history (task_id, name, posted, work_start, work_end, result, err, completed_by_session_id)
		VALUES (?, 'PDPProve', ?, ?, ?, false, ?, 'session')`, w.task, at.Add(-time.Minute), at.Add(-time.Second), at,
		fmt.Sprintf("failed to generate proofs: failed to prove piece 0 (dataSetId: %d, pieceId: %d, leafIndex: 1234): %s", dataSetID, pieceID, msg))
	return err
}

// ChurnStats is what a churning writer saw.
type ChurnStats struct {
	Busy   int   // transactions refused for a lock (the writer never waits: busy_timeout 0)
	MaxWAL int64 // the largest the -wal file grew
}

// Churn writes n transactions, one every interval, to the state of
// dataDir as a busy Piri does (a task_history row, a proof set's next
// challenge moved), with the WAL checkpointed every 100 pages. It never
// waits for a lock: a refused transaction is counted and skipped.
func Churn(dataDir string, n int, interval time.Duration) (ChurnStats, error) {
	path := filepath.Join(dataDir, "pdp", "state", "state.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(0)&_pragma=wal_autocheckpoint(100)")
	if err != nil {
		return ChurnStats{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var st ChurnStats
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		err := func() error {
			tx, err := db.Begin()
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.Exec(`INSERT INTO task_history (task_id, name, posted, work_start, work_end, result, err, completed_by_session_id)
				VALUES (?, 'PDPProvingPeriod', ?, ?, ?, true, '', 'churn')`, 100000+i, time.Now(), time.Now(), time.Now()); err != nil {
				return err
			}
			if _, err := tx.Exec(`UPDATE pdp_proof_sets SET prove_at_epoch = coalesce(prove_at_epoch, 0) + 1`); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy") || strings.Contains(err.Error(), "BUSY") {
				st.Busy++
				continue
			}
			return st, err
		}
		if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > st.MaxWAL {
			st.MaxWAL = fi.Size()
		}
	}
	return st, nil
}
