// Package pgread opens a Piri node's PostgreSQL database ([repo.database]
// type = "postgres", v0.2.3+) to read one of its schemas: scheduler (the
// PDP state) or aggregator (the job queues). Every transaction is read
// only (default_transaction_read_only), and the password comes from the
// URL in Piri's config, or PGPASSWORD, or a password file (PGPASSFILE,
// ~/.pgpass): never from storefs's command line. It never appears in an
// error or a log line: the URL is shown redacted.
package pgread

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver
)

// ErrSchema is matched when the schema lacks a table or column a reader
// needs.
var ErrSchema = errors.New("not the expected schema")

// Redact is a connection URL without its password, to show.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a PostgreSQL URL that does not parse)"
	}
	return u.Redacted()
}

// Open connects to the database at raw with schema first on the search
// path, every transaction read only, and checks that it answers.
func Open(ctx context.Context, raw, schema string) (*sql.DB, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s: not a postgres:// URL", Redact(raw))
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("default_transaction_read_only", "on")
	q.Set("application_name", "storefs")
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", Redact(raw), err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres %s: %w", Redact(raw), scrub(err, u))
	}
	return db, nil
}

// scrub removes the password from an error's text, should a driver ever
// put it there.
func scrub(err error, u *url.URL) error {
	if p, ok := u.User.Password(); ok && p != "" && strings.Contains(err.Error(), p) {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}

// Check says which table or column of needs the current schema lacks.
func Check(ctx context.Context, db *sql.DB, needs map[string][]string) error {
	for table, cols := range needs {
		rows, err := db.QueryContext(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, table)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return err
			}
			have[name] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
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

// Rebind turns a query's ? placeholders into PostgreSQL's $1, $2, …
// (storefs's queries hold no ? in a literal).
func Rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
