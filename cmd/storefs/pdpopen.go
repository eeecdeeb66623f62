package main

import (
	"context"

	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/pdpstate"
)

// openPDPState opens the node's PDP state: in PostgreSQL when its Piri
// config says so, else the data dir's SQLite file.
func openPDPState(ctx context.Context, st mountopts.Settings) (*pdpstate.DB, error) {
	if u := st.Store.Postgres; u != "" {
		return pdpstate.OpenPostgres(ctx, u)
	}
	return pdpstate.Open(st.Store.DataDir)
}

// openJobQueue opens the aggregator's job queues, beside the PDP state.
func openJobQueue(ctx context.Context, st mountopts.Settings) (*jobqueue.DB, error) {
	if u := st.Store.Postgres; u != "" {
		return jobqueue.OpenPostgres(ctx, u)
	}
	return jobqueue.Open(st.Store.DataDir)
}
