package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/multiformats/go-multihash"
	"github.com/storacha/go-libstoracha/piece/piece"

	"github.com/storacha/piri/lib/jobqueue"
	"github.com/storacha/piri/pkg/config/app"
	"github.com/storacha/piri/pkg/database"
	"github.com/storacha/piri/pkg/database/sqlitedb"
	"github.com/storacha/piri/pkg/pdp/aggregation/aggregator"
	"github.com/storacha/piri/pkg/pdp/aggregation/commp"
	"github.com/storacha/piri/pkg/pdp/aggregation/manager"
)

// jobqueueGolden writes <out>/jobqueue.db as Piri v0.2.4's three PDP
// queues leave it: in each, one job dead-lettered (by its handler's
// permanent error: Piri's own worker moves it) and one still queued.
// It then dumps the schema (to schemaOut) and every row (<out>/jobqueue.json).
func jobqueueGolden(out, schemaOut string, blobs []multihash.Multihash, pieces []piece.PieceLink, aggs []datamodel.Link) error {
	dir, err := os.MkdirTemp("", "piri-jobqueue")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "jobqueue.db")
	db, err := sqlitedb.New(path, database.WithJournalMode(database.JournalModeWAL), database.WithTimeout(5*time.Second), database.WithSyncMode(database.SyncModeNORMAL))
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := app.StorageConfig{}
	cq, err := commp.NewQueue(commp.CommpQueueParams{DB: db, StorageConfig: cfg})
	if err != nil {
		return err
	}
	if err := deadThenQueued(cq, commp.TaskName, blobs[0], blobs[1], "calculating commp: reading blob: no such blob"); err != nil {
		return fmt.Errorf("commp queue: %w", err)
	}
	aq, err := aggregator.NewQueue(aggregator.QueueParams{DB: db, StorageConfig: cfg})
	if err != nil {
		return err
	}
	if err := deadThenQueued(aq, aggregator.TaskName, pieces[0], pieces[1], "aggregating piece: buffer: leveldb: closed"); err != nil {
		return fmt.Errorf("aggregator queue: %w", err)
	}
	mq, err := manager.NewQueue(manager.QueueParams{DB: db, StorageConfig: cfg})
	if err != nil {
		return err
	}
	if err := deadThenQueued(mq, manager.HandlerName, aggs[:1], aggs[1:], "adding roots: proof set not found"); err != nil {
		return fmt.Errorf("manager queue: %w", err)
	}
	return dumpSQLite(db, out, schemaOut)
}

// deadThenQueued runs q's worker on two jobs: dead fails for good, so
// Piri moves it to the dead letters; queued fails once, so it stays in
// the queue to be tried again. The worker is stopped after both.
func deadThenQueued[T any](q jobqueue.Service[T], name string, dead, queued T, msg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ran := make(chan string, 16)
	err := q.Register(name, func(_ context.Context, v T) error {
		if fmt.Sprint(v) == fmt.Sprint(dead) {
			defer report(ran, "dead")
			return jobqueue.NewPermanentError(errors.New(msg))
		}
		defer report(ran, "queued")
		return errors.New("not yet: " + msg)
	})
	if err != nil {
		return err
	}
	if err := q.Start(ctx); err != nil {
		return err
	}
	for _, v := range []T{dead, queued} {
		if err := q.Enqueue(ctx, name, v); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case r := <-ran:
			seen[r] = true
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The worker moves or releases a job after its handler returns; Stop
	// waits for that.
	return q.Stop(ctx)
}

// report tells without waiting: a job retried fills the channel.
func report(ch chan string, what string) {
	select {
	case ch <- what:
	default:
	}
}

// dumpSQLite writes the schema (every statement, as created) and every
// row of every table, bytes in hex.
func dumpSQLite(db *sql.DB, out, schemaOut string) error {
	// One connection (Piri's setting): each query is read to its end
	// before the next.
	rows, err := db.Query(`SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid`)
	if err != nil {
		return err
	}
	var ddl string
	var tables []string
	for rows.Next() {
		var typ, name, stmt string
		if err := rows.Scan(&typ, &name, &stmt); err != nil {
			return err
		}
		ddl += stmt + ";\n"
		if typ == "table" {
			tables = append(tables, name)
		}
	}
	rows.Close()
	header := "-- Piri v0.2.4's aggregator job queues (lib/jobqueue, SQLite), as its own code\n-- created them; written by scripts/piri-aggregator.\n"
	if err := os.WriteFile(schemaOut, []byte(header+ddl), 0o644); err != nil {
		return err
	}
	dump := map[string][]map[string]any{}
	for _, t := range tables {
		rows, err := db.Query(`SELECT * FROM "` + t + `"`)
		if err != nil {
			return err
		}
		cols, _ := rows.Columns()
		dump[t] = []map[string]any{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			row := map[string]any{}
			for i, c := range cols {
				if b, ok := vals[i].([]byte); ok {
					row[c] = map[string]string{"hex": hex.EncodeToString(b)}
				} else {
					row[c] = vals[i]
				}
			}
			dump[t] = append(dump[t], row)
		}
		rows.Close()
	}
	js, err := json.MarshalIndent(dump, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "jobqueue.json"), append(js, '\n'), 0o644)
}
