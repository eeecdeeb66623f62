package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/storacha/piri/pkg/config/app"
	"github.com/storacha/piri/pkg/database/gormdb"
	"github.com/storacha/piri/pkg/database/postgresdb"
	"github.com/storacha/piri/pkg/pdp/aggregation/aggregator"
	"github.com/storacha/piri/pkg/pdp/aggregation/commp"
	"github.com/storacha/piri/pkg/pdp/aggregation/manager"
	"github.com/storacha/piri/pkg/pdp/service/models"
)

// postgresGolden makes, in the database at url, what Piri v0.2.4 makes
// there with [repo.database] type = "postgres": its PDP state tables in
// schema scheduler (gorm's AutoMigrate of its own models) and its job
// queues in schema aggregator (its queue code, Postgres dialect); then
// writes their schema (pg_dump --schema-only) to out.
func postgresGolden(url, out string) error {
	ctx := context.Background()
	gdb, err := gormdb.NewPostgres(url, "scheduler", nil)
	if err != nil {
		return err
	}
	if err := models.AutoMigrateDB(ctx, gdb); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	if sdb, err := gdb.DB(); err == nil {
		sdb.Close()
	}
	db, err := postgresdb.New(url, "aggregator")
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := app.StorageConfig{Database: app.DatabaseConfig{Type: app.DatabaseTypePostgres}}
	if _, err := commp.NewQueue(commp.CommpQueueParams{DB: db, StorageConfig: cfg}); err != nil {
		return err
	}
	if _, err := aggregator.NewQueue(aggregator.QueueParams{DB: db, StorageConfig: cfg}); err != nil {
		return err
	}
	if _, err := manager.NewQueue(manager.QueueParams{DB: db, StorageConfig: cfg}); err != nil {
		return err
	}
	dump := exec.Command("pg_dump", "--schema-only", "--no-owner", "--no-privileges", "--schema=scheduler", "--schema=aggregator", url)
	dump.Stderr = os.Stderr
	ddl, err := dump.Output()
	if err != nil {
		return fmt.Errorf("pg_dump: %w", err)
	}
	// pg_dump's psql meta-commands (\restrict …) are for psql alone.
	var kept []string
	for _, line := range strings.Split(string(ddl), "\n") {
		if !strings.HasPrefix(line, "\\") {
			kept = append(kept, line)
		}
	}
	ddl = []byte(strings.Join(kept, "\n"))
	header := "-- Piri v0.2.4's PDP state (schema scheduler, gorm's AutoMigrate of its models)\n-- and aggregator job queues (schema aggregator, lib/jobqueue), as its own code\n-- made them in PostgreSQL; written by scripts/piri-aggregator (pg_dump --schema-only).\n"
	return os.WriteFile(out, append([]byte(header), ddl...), 0o644)
}
