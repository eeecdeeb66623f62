package main

import (
	"context"
	"errors"

	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/pdppipeline"
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

// openPipeline opens what lies before the proofs: an opener of the
// aggregator's datastore (each use opens it: a running node holds it) and
// the job queues, read once (empty when the node has none).
func openPipeline(ctx context.Context, st mountopts.Settings) (func() (*aggregator.DB, error), pdppipeline.Jobs, error) {
	q, err := openJobQueue(ctx, st)
	switch {
	case errors.Is(err, jobqueue.ErrNone):
		q = nil
	case err != nil:
		return nil, nil, err
	default:
		defer q.Close()
	}
	jobs, err := pdppipeline.ReadJobs(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	dataDir := st.Store.DataDir
	return func() (*aggregator.DB, error) { return aggregator.Open(dataDir) }, jobs, nil
}
