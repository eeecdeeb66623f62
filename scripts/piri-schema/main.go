// Command piri-schema writes the SQLite schema of Piri v0.2.4's PDP state
// database (<data_dir>/pdp/state/state.db) as Piri creates it: its own
// gorm models (models.go, copied from storacha/piri v0.2.4) migrated by
// gorm v1.26.1 through the glebarez/sqlite v1.11.0 driver, the versions
// Piri v0.2.4 builds with, plus its triggers. The output is committed as
// internal/testsupport/pdpstate/schema.sql, which the tests' state
// writer runs; regenerate it with
//
//	cd scripts/piri-schema && go run . > ../../internal/testsupport/pdpstate/schema.sql
//
// (a module of its own: gorm and the glebarez driver pin a modernc.org
// SQLite storefs does not build with).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "piri-schema:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "piri-schema")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "state.db")+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"),
		&gorm.Config{SkipDefaultTransaction: true, Logger: logger.Discard})
	if err != nil {
		return err
	}
	if err := AutoMigrateDB(context.Background(), db); err != nil {
		return err
	}
	var rows []struct{ Type, Name, SQL string }
	if err := db.Raw(`SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid`).Scan(&rows).Error; err != nil {
		return err
	}
	fmt.Println("-- The schema of Piri v0.2.4's pdp/state/state.db, written by scripts/piri-schema")
	fmt.Println("-- (Piri's gorm models migrated by gorm v1.26.1 with glebarez/sqlite v1.11.0). Do not edit.")
	for _, r := range rows {
		fmt.Printf("%s;\n", r.SQL)
	}
	return nil
}
