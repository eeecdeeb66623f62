// Command piri-aggregator writes the golden aggregator datastore of
// storefs's tests with Piri v0.2.4's own code: its aggregate builder
// (inclusion proofs and all), its aggregate store, its submission
// workspace, and its buffer schema and converters (the three lines of
// Piri's internal ipldstore that the workspace's Put is). It is a module
// of its own so that storefs does not depend on Piri.
//
//	go run . ../../store/aggregator/testdata ../../store/jobqueue/testdata ../../internal/testsupport/jobqueue/schema.sql
//
// writes datastore.golden (every key and value, hex) and expect.json
// (what those values are, as Piri's structs hold them), then the job
// queues' schema and rows (jobqueue.go);
//
//	go run . postgres postgres://… ../../internal/testsupport/pdpstate/schema.postgres.sql
//
// writes the PostgreSQL schema Piri makes (postgres.go; pg-golden.sh runs
// it on a throwaway server).
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	commcid "github.com/filecoin-project/go-fil-commcid"
	commp "github.com/filecoin-project/go-fil-commp-hashhash"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/multiformats/go-multihash"
	captypes "github.com/storacha/go-libstoracha/capabilities/types"
	"github.com/storacha/go-libstoracha/piece/piece"
	"github.com/storacha/go-ucanto/core/ipld/codec/cbor"

	"github.com/storacha/piri/pkg/pdp/aggregation/aggregator"
	"github.com/storacha/piri/pkg/pdp/aggregation/manager"
	"github.com/storacha/piri/pkg/pdp/aggregation/types"
)

type expectPiece struct {
	Link  string   `json:"link"`
	Index uint64   `json:"index"`
	Path  []string `json:"path"` // hex
}

type expectAggregate struct {
	Root   string        `json:"root"`
	Pieces []expectPiece `json:"pieces"`
}

type expect struct {
	// Blobs are the seeds of the blobs behind every piece: blob i is
	// 1000*(i+1) bytes of ChaCha8 seeded with byte i.
	Pieces      []string          `json:"pieces"`
	Aggregates  []expectAggregate `json:"aggregates"`
	BufferTotal uint64            `json:"buffer_total"`
	Buffer      []string          `json:"buffer"`
	Submission  []string          `json:"submission"`
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "postgres" { // postgres URL OUT
		if err := postgresGolden(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	jobs, schema := "", ""
	if len(os.Args) > 3 {
		jobs, schema = os.Args[2], os.Args[3]
	}
	if err := run(os.Args[1], jobs, schema); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// blob is what tests make too: 1000*(i+1) bytes of ChaCha8 seeded by i.
func blob(i int) []byte {
	data := make([]byte, 1000*(i+1))
	rand.NewChaCha8([32]byte{byte(i)}).Read(data)
	return data
}

func pieceOf(data []byte) (piece.PieceLink, error) {
	var cp commp.Calc
	cp.Write(data)
	digest, _, err := cp.Digest()
	if err != nil {
		return nil, err
	}
	v1, err := commcid.DataCommitmentV1ToCID(digest)
	if err != nil {
		return nil, err
	}
	return piece.FromV1LinkAndSize(cidlink.Link{Cid: v1}, uint64(len(data)))
}

func run(out, jobs, schema string) error {
	ctx := context.Background()
	var pieces []piece.PieceLink
	var ex expect
	for i := range 7 {
		p, err := pieceOf(blob(i))
		if err != nil {
			return err
		}
		pieces = append(pieces, p)
		ex.Pieces = append(ex.Pieces, p.Link().String())
	}
	bySize := func(ps []piece.PieceLink) []piece.PieceLink {
		ps = slices.Clone(ps)
		slices.SortStableFunc(ps, func(a, b piece.PieceLink) int { return int(b.PaddedSize()) - int(a.PaddedSize()) })
		return ps
	}
	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	store := types.NewStore(types.StoreParams{Datastore: ds})
	// Two aggregates: one added to a proof set, one waiting to be.
	var aggs []types.Aggregate
	for _, group := range [][]piece.PieceLink{pieces[0:3], pieces[3:5]} {
		agg, err := aggregator.NewAggregate(bySize(group))
		if err != nil {
			return fmt.Errorf("aggregate: %w", err)
		}
		if err := store.Put(ctx, agg.Root.Link(), agg); err != nil {
			return fmt.Errorf("put aggregate: %w", err)
		}
		aggs = append(aggs, agg)
		ea := expectAggregate{Root: agg.Root.Link().String()}
		for _, p := range agg.Pieces {
			ep := expectPiece{Link: p.Link.Link().String(), Index: p.InclusionProof.Index}
			for _, n := range p.InclusionProof.Path {
				ep.Path = append(ep.Path, hex.EncodeToString(n[:]))
			}
			ea.Pieces = append(ea.Pieces, ep)
		}
		ex.Aggregates = append(ex.Aggregates, ea)
	}
	sub, err := manager.NewSubmissionWorkspace(manager.SubmissionWorkspaceParams{Datastore: ds})
	if err != nil {
		return err
	}
	if err := sub.AppendRoots(ctx, []datamodel.Link{aggs[1].Root.Link()}); err != nil {
		return err
	}
	ex.Submission = []string{aggs[1].Root.Link().String()}
	// The buffer: the last two pieces, waiting for enough to aggregate.
	buf := types.Buffer{ReverseSortedPieces: bySize(pieces[5:7])}
	for _, p := range buf.ReverseSortedPieces {
		buf.TotalSize += p.PaddedSize()
		ex.Buffer = append(ex.Buffer, p.Link().String())
	}
	ex.BufferTotal = buf.TotalSize
	data, err := cbor.Encode(&buf, types.BufferType(), captypes.Converters...)
	if err != nil {
		return fmt.Errorf("encode buffer: %w", err)
	}
	if err := ds.Put(ctx, datastore.NewKey(aggregator.WorkspaceKey+"buffer"), data); err != nil {
		return err
	}

	res, err := ds.Query(ctx, query.Query{Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return err
	}
	var golden strings.Builder
	golden.WriteString("# Piri v0.2.4's aggregator datastore, written by scripts/piri-aggregator: key, then the value in hex\n")
	for r := range res.Next() {
		if r.Error != nil {
			return r.Error
		}
		fmt.Fprintf(&golden, "%s %s\n", r.Key, hex.EncodeToString(r.Value))
	}
	if err := os.WriteFile(filepath.Join(out, "datastore.golden"), []byte(golden.String()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(ex, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "expect.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if jobs == "" {
		return nil
	}
	var blobs []multihash.Multihash
	for i := range 2 {
		d, err := multihash.Sum(blob(i), multihash.SHA2_256, -1)
		if err != nil {
			return err
		}
		blobs = append(blobs, d)
	}
	return jobqueueGolden(jobs, schema, blobs, pieces[5:7], []datamodel.Link{aggs[0].Root.Link(), aggs[1].Root.Link()})
}
