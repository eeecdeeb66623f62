// Package sqliteread opens a SQLite database that a live process writes
// in WAL mode (Piri's PDP state, its job queues) to read it without harm:
// it never creates a file beside the database, opens it read only, and
// database/sql keeps each connection only while the files stand as they
// did when it was opened. Callers keep each read to one statement, so the
// writer's checkpoints are never starved.
package sqliteread

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

	"modernc.org/sqlite"
)

// ErrSchema is matched when the database lacks a table or column the
// reader needs, or is no SQLite database.
var ErrSchema = errors.New("not the expected schema")

// DB is an open database.
type DB struct {
	*sql.DB
	path string
	tmp  string // a private copy's directory, removed at Close
}

// Open opens the database at path to read:
//   - no -wal and no -shm beside it: no writer runs (SQLite checkpoints
//     and removes them when the last writer closes); opened immutable,
//     which creates nothing;
//   - a -shm: a live writer (or one that died): read only through the
//     shared memory it keeps, which creates nothing either;
//   - a -wal without -shm: committed pages that a reader would have to
//     make a -shm for; the database and its WAL are copied to a private
//     directory and read there (as they were at Open).
//
// Each connection decides afresh, as the files stand then. A missing
// file is an error matching fs.ErrNotExist.
func Open(path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	d := &DB{path: path}
	if exists(path+"-wal") && !exists(path+"-shm") {
		tmp, err := os.MkdirTemp("", "storefs-sqlite-")
		if err != nil {
			return nil, err
		}
		d.tmp = tmp
		for _, suffix := range []string{"", "-wal"} {
			if err := copyFile(path+suffix, filepath.Join(tmp, "db"+suffix)); err != nil {
				os.RemoveAll(tmp)
				return nil, fmt.Errorf("a private copy of %s: %w", path, err)
			}
		}
	}
	// A connection is opened as the files are at that moment, and reused
	// only while they stay so: a mount outlives the writer stopping and
	// starting, and an immutable connection would read a database the
	// writer has since changed under it (see conn.IsValid).
	d.DB = sql.OpenDB(connector{d})
	d.SetMaxIdleConns(2)
	d.SetMaxOpenConns(4)
	return d, nil
}

// Path is the database read.
func (d *DB) Path() string { return d.path }

// Close closes the database and removes a private copy.
func (d *DB) Close() error {
	var err error
	if d.DB != nil {
		err = d.DB.Close()
	}
	if d.tmp != "" {
		os.RemoveAll(d.tmp)
	}
	return err
}

// Check says which table or column of needs the database lacks.
func (d *DB) Check(needs map[string][]string) error {
	for table, cols := range needs {
		rows, err := d.Query(`SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			return Explain(err)
		}
		have := map[string]bool{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return Explain(err)
			}
			have[name] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Explain(err)
		}
		if len(have) == 0 {
			return fmt.Errorf("%w: no table %s", ErrSchema, table)
		}
		for _, c := range cols {
			if !have[c] {
				return fmt.Errorf("%w: table %s has no column %s", ErrSchema, table, c)
			}
		}
	}
	return nil
}

// Explain words SQLite's errors for an operator.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "database is locked"), strings.Contains(msg, "SQLITE_BUSY"):
		return fmt.Errorf("locked by a writer for more than 5 s (checkpointing?); try again: %w", err)
	case strings.Contains(msg, "file is not a database"), strings.Contains(msg, "SQLITE_NOTADB"):
		return fmt.Errorf("%w: not an SQLite database: %w", ErrSchema, err)
	}
	return err
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
		return "file:" + filepath.Join(d.tmp, "db") + "?mode=ro"
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
