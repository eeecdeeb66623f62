package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"strings"
	"sync"

	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/helpers/pool"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/carblob"
	"github.com/storacha/storefs/store/objectstore"
)

// Stats say what a refresh did.
type Stats struct {
	Listed  int64 `json:"listed"`  // blobs the store listed
	Read    int64 `json:"read"`    // blobs whose head was read (new ones)
	Indexes int64 `json:"indexes"` // index blobs among them
	Shards  int64 `json:"shards"`  // CAR shards among them
	Other   int64 `json:"other"`
	Roots   int64 `json:"roots"`   // roots named by shard headers
	Slices  int64 `json:"slices"`  // slices the new indexes locate
	Dropped int64 `json:"dropped"` // blobs no longer listed
	Failed  int64 `json:"failed"`  // heads that could not be read (tried again next time)
	Bytes   int64 `json:"bytes_read"`
}

// Options shape a refresh.
type Options struct {
	// Jobs is how many blobs are read at once: 16 when zero (on S3 each
	// read is a round trip).
	Jobs int
	// Rebuild forgets everything first.
	Rebuild bool
	// Progress, when set, is told the stats as they change.
	Progress func(Stats)
	Log      *slog.Logger
}

// batch is how many listed blobs are looked up in the catalogue at once,
// and how many changes a transaction holds.
const batch = 512

// rowsPerInsert is how many slices one INSERT writes.
const rowsPerInsert = 200

// listed is one blob of the store's listing, and what the catalogue
// already has of it.
type listed struct {
	info  blobstore.Info
	known int64 // its blobs.id; 0: new
}

// found is what reading a new blob found.
type found struct {
	head  carblob.Head
	index *carblob.ShardedIndex
	bytes int64
}

// Refresh brings the catalogue up to date with blobs: the heads of blobs
// it has not seen are read (Jobs at a time), index blobs whole; blobs no
// longer listed drop out once the whole listing was read. Another
// process refreshing the same catalogue is ErrBusy. A blob that cannot
// be read is logged, counted and tried again next time.
func (c *Catalog) Refresh(ctx context.Context, blobs blobstore.Store, o Options) (Stats, error) {
	if o.Jobs <= 0 {
		o.Jobs = 16
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Progress == nil {
		o.Progress = func(Stats) {}
	}
	lock, err := c.lockWriter()
	if err != nil {
		return Stats{}, err
	}
	defer lock.release()
	if o.Rebuild {
		if _, err := c.db.ExecContext(ctx, `DELETE FROM slices; DELETE FROM blocks; DELETE FROM indexes; DELETE FROM blobs; DELETE FROM names;`); err != nil {
			return Stats{}, fmt.Errorf("catalog: rebuild: %w", err)
		}
	}
	var gen int64
	if err := c.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(gen), 0) + 1 FROM blobs`).Scan(&gen); err != nil {
		return Stats{}, fmt.Errorf("catalog: %w", err)
	}
	w := &writer{c: c, gen: gen, log: o.Log}
	defer w.rollback()
	var st Stats
	var stMu sync.Mutex // Listed is counted by the listing's goroutine
	err = pool.Each(ctx, o.Jobs, c.unseen(ctx, blobs, &st, &stMu),
		func(ctx context.Context, l listed) (found, error) {
			if l.known != 0 {
				return found{}, nil
			}
			return readBlob(ctx, blobs, l.info)
		},
		func(l listed, f found, err error) error {
			stMu.Lock()
			defer stMu.Unlock()
			switch {
			case err != nil && ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				st.Failed++
				o.Log.Warn("catalog: a blob could not be read; tried again next time", "blob", blobstore.Name(l.info.Digest), "err", err)
				return nil
			case l.known != 0:
				if err := w.seen(ctx, l.known); err != nil {
					return err
				}
			default:
				if err := w.add(ctx, l.info, f, &st); err != nil {
					return err
				}
			}
			o.Progress(st)
			return nil
		})
	if err != nil {
		return st, fmt.Errorf("catalog: refresh: %w", err)
	}
	if err := w.flushSeen(ctx); err != nil {
		return st, err
	}
	if err := w.commit(); err != nil {
		return st, err
	}
	dropped, err := c.drop(ctx, gen)
	st.Dropped = dropped
	o.Progress(st)
	if err == nil {
		// Fold the write-ahead log into the database: a first build
		// leaves a WAL as big as what it wrote.
		_, err = c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	return st, err
}

// unseen streams the store's listing, each blob with its catalogue id
// when the catalogue has it (with the same size), looked up batch blobs
// at a time.
func (c *Catalog) unseen(ctx context.Context, blobs blobstore.Store, st *Stats, mu *sync.Mutex) iter.Seq2[listed, error] {
	return func(yield func(listed, error) bool) {
		var pending []listed
		flush := func() bool {
			if len(pending) == 0 {
				return true
			}
			if err := c.lookup(ctx, pending); err != nil {
				yield(listed{}, err)
				return false
			}
			for _, l := range pending {
				if !yield(l, nil) {
					return false
				}
			}
			pending = pending[:0]
			return true
		}
		for info, err := range blobs.List(ctx) {
			if err != nil {
				yield(listed{}, fmt.Errorf("list the blobs: %w", err))
				return
			}
			mu.Lock()
			st.Listed++
			mu.Unlock()
			pending = append(pending, listed{info: info})
			if len(pending) == batch && !flush() {
				return
			}
		}
		flush()
	}
}

// lookup fills in the ids of the blobs the catalogue has.
func (c *Catalog) lookup(ctx context.Context, ls []listed) error {
	args := make([]any, len(ls))
	for i, l := range ls {
		args[i] = []byte(l.info.Digest)
	}
	q := `SELECT n.digest, b.id, b.size FROM names n JOIN blobs b ON b.id = n.id WHERE n.digest IN (?` + strings.Repeat(",?", len(ls)-1) + `)`
	rows, err := c.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	known := map[string][2]int64{}
	for rows.Next() {
		var d []byte
		var id, size int64
		if err := rows.Scan(&d, &id, &size); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		known[string(d)] = [2]int64{id, size}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	for i := range ls {
		if k, ok := known[string(ls[i].info.Digest)]; ok && k[1] == ls[i].info.Size {
			ls[i].known = k[0]
		}
	}
	return nil
}

// readBlob reads a new blob's head, and an index blob whole.
func readBlob(ctx context.Context, blobs blobstore.Store, info blobstore.Info) (found, error) {
	var f found
	if info.Size == 0 {
		return found{head: carblob.Head{Kind: carblob.Other}}, nil
	}
	want := min(info.Size, carblob.HeadSize)
	for {
		head, err := readRange(ctx, blobs, info.Digest, want)
		f.bytes += int64(len(head))
		if err != nil {
			return f, err
		}
		h, err := carblob.Classify(head, info.Size)
		var short *carblob.ShortError
		if errors.As(err, &short) && short.Need > want && short.Need <= info.Size {
			want = short.Need
			continue
		}
		if err != nil {
			h = carblob.Head{Kind: carblob.Other}
		}
		f.head = h
		break
	}
	if f.head.Kind != carblob.Index {
		return f, nil
	}
	if info.Size > carblob.MaxIndex {
		f.head.Kind = carblob.Shard
		return f, nil
	}
	data, err := readRange(ctx, blobs, info.Digest, info.Size)
	f.bytes += int64(len(data))
	if err != nil {
		return f, err
	}
	if f.index, err = carblob.DecodeIndex(data); err != nil {
		// Its first block said index; the rest does not decode: a CAR.
		f.head.Kind = carblob.Shard
		f.index = nil
	}
	return f, nil
}

func readRange(ctx context.Context, blobs blobstore.Store, digest mh.Multihash, n int64) ([]byte, error) {
	obj, err := blobs.Get(ctx, digest, objectstore.WithRange(objectstore.Bytes(0, n-1)))
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	buf := make([]byte, n)
	k, err := io.ReadFull(obj, buf)
	if err != nil {
		return buf[:k], fmt.Errorf("read blob %s: %w", blobstore.Name(digest), err)
	}
	return buf, nil
}

// writer writes what a refresh finds, batch changes a transaction.
type writer struct {
	c       *Catalog
	gen     int64
	log     *slog.Logger
	tx      *sql.Tx
	changes int
	seenIDs []int64 // known blobs listed, not yet marked
}

func (w *writer) begin(ctx context.Context) (*sql.Tx, error) {
	if w.tx == nil {
		tx, err := w.c.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		w.tx = tx
	}
	return w.tx, nil
}

// done counts a change, committing every batch of them.
func (w *writer) done() error {
	if w.changes++; w.changes >= batch {
		return w.commit()
	}
	return nil
}

func (w *writer) commit() error {
	if w.tx == nil {
		return nil
	}
	err := w.tx.Commit()
	w.tx, w.changes = nil, 0
	if err != nil {
		return fmt.Errorf("catalog: commit: %w", err)
	}
	return nil
}

func (w *writer) rollback() {
	if w.tx != nil {
		w.tx.Rollback()
		w.tx = nil
	}
}

// seen marks a known blob as listed by this refresh; the marks are
// written a batch at a time.
func (w *writer) seen(ctx context.Context, id int64) error {
	w.seenIDs = append(w.seenIDs, id)
	if len(w.seenIDs) < batch {
		return nil
	}
	return w.flushSeen(ctx)
}

func (w *writer) flushSeen(ctx context.Context) error {
	if len(w.seenIDs) == 0 {
		return nil
	}
	tx, err := w.begin(ctx)
	if err != nil {
		return err
	}
	args := make([]any, 0, len(w.seenIDs)+1)
	args = append(args, w.gen)
	for _, id := range w.seenIDs {
		args = append(args, id)
	}
	q := `UPDATE blobs SET gen = ? WHERE id IN (?` + strings.Repeat(`, ?`, len(w.seenIDs)-1) + `)`
	w.seenIDs = w.seenIDs[:0]
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return w.commit()
}

// name is the id of a multihash, made when new.
func name(ctx context.Context, tx *sql.Tx, digest mh.Multihash) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO names(digest) VALUES (?) ON CONFLICT(digest) DO UPDATE SET digest = excluded.digest RETURNING id`, []byte(digest)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("catalog: %w", err)
	}
	return id, nil
}

func (w *writer) add(ctx context.Context, info blobstore.Info, f found, st *Stats) error {
	tx, err := w.begin(ctx)
	if err != nil {
		return err
	}
	id, err := name(ctx, tx, info.Digest)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO blobs(id, size, kind, roots, data_offset, gen, scanned) VALUES (?, ?, ?, ?, ?, ?, 0)
		ON CONFLICT(id) DO UPDATE SET size = excluded.size, kind = excluded.kind, roots = excluded.roots, data_offset = excluded.data_offset, gen = excluded.gen, scanned = 0`,
		id, info.Size, int(f.head.Kind), formatRoots(f.head.Roots), f.head.DataOffset, w.gen)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	st.Read++
	st.Bytes += f.bytes
	switch f.head.Kind {
	case carblob.Index:
		st.Indexes++
	case carblob.Shard:
		st.Shards++
		st.Roots += int64(len(f.head.Roots))
	default:
		st.Other++
	}
	if f.index != nil {
		n, err := w.addIndex(ctx, tx, id, info.Digest, f.index)
		if err != nil {
			return err
		}
		st.Slices += n
	}
	return w.done()
}

// addIndex records where an index says each block lies.
func (w *writer) addIndex(ctx context.Context, tx *sql.Tx, source int64, digest mh.Multihash, ix *carblob.ShardedIndex) (int64, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM slices WHERE source = ?`, source); err != nil {
		return 0, fmt.Errorf("catalog: %w", err)
	}
	// Many rows a statement: one Exec per slice made a first build of
	// 5M slices take minutes.
	var rows []any
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		q := `INSERT OR REPLACE INTO slices(digest, shard, offset, length, source) VALUES (?, ?, ?, ?, ?)` + strings.Repeat(`, (?, ?, ?, ?, ?)`, len(rows)/5-1)
		_, err := tx.ExecContext(ctx, q, rows...)
		rows = rows[:0]
		if err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		return nil
	}
	var n int64
	past := 0
	for _, s := range ix.Shards {
		shard, err := name(ctx, tx, s.Shard)
		if err != nil {
			return 0, err
		}
		var size int64 = -1 // the shard's, when it is catalogued
		_ = tx.QueryRowContext(ctx, `SELECT size FROM blobs WHERE id = ?`, shard).Scan(&size)
		for _, sl := range s.Slices {
			if size >= 0 && sl.Offset+sl.Length > uint64(size) {
				past++
			}
			rows = append(rows, []byte(sl.Digest), shard, int64(sl.Offset), int64(sl.Length), source)
			if len(rows) == 5*rowsPerInsert {
				if err := flush(); err != nil {
					return 0, err
				}
			}
			n++
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	if past > 0 {
		// Said once, when the index is read; reads of those blocks fail.
		w.log.Warn("an index places blocks past their shard's end", "index", blobstore.Name(digest), "slices", past)
	}
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO indexes(id, content, shards, slices) VALUES (?, ?, ?, ?)`,
		source, ix.Content.String(), len(ix.Shards), n)
	if err != nil {
		return 0, fmt.Errorf("catalog: %w", err)
	}
	return n, nil
}

// drop forgets the blobs the refresh of generation gen did not list,
// and what their indexes and scans said.
func (c *Catalog) drop(ctx context.Context, gen int64) (int64, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("catalog: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{
		`DELETE FROM slices WHERE source IN (SELECT id FROM blobs WHERE gen < ?)`,
		`DELETE FROM blocks WHERE shard IN (SELECT id FROM blobs WHERE gen < ?)`,
		`DELETE FROM indexes WHERE id IN (SELECT id FROM blobs WHERE gen < ?)`,
	} {
		if _, err := tx.ExecContext(ctx, q, gen); err != nil {
			return 0, fmt.Errorf("catalog: %w", err)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE gen < ?`, gen)
	if err != nil {
		return 0, fmt.Errorf("catalog: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, tx.Commit()
}
