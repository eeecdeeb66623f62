package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/ipfs/go-cid"

	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/pdppipeline"
	"github.com/storacha/storefs/store/pdpstate"
	"github.com/storacha/storefs/store/piece"
	"github.com/storacha/storefs/store/proofrisk"
)

func pdpCommand() *cli.Command {
	return &cli.Command{
		Name:      "pdp",
		Usage:     "the node's PDP state: pieces behind its proofs",
		UsageText: "storefs pdp COMMAND [backend] [arguments]\n\nExample:\n   storefs pdp commp --data-dir /var/lib/piri ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i",
		Subcommands: []*cli.Command{
			{
				Name:      "status",
				Usage:     "per proof set: roots, bytes, the subroots whose blobs would fail a challenge, the chance a period fails, the next challenge, root adds, the last prove failures; then the pipeline before proofs",
				UsageText: "storefs pdp status [backend] [--verify] [--verify-commp] [--json]\n\nReads <data_dir>/pdp/state/state.db read only, beside a running Piri (PDP\nstate is local, also for a node whose blobs are on S3: name the data dir or a\nPiri config naming it), and the blob behind each subroot: present and of its\nrecorded size; --verify hashes it, --verify-commp computes its commP (one read).\nThen what is on its way into proofs: the aggregator's buffer, the aggregates\nwaiting to be added, and the job queues (queued and dead jobs, the last error).\n\nExample:\n   storefs pdp status --data-dir /var/lib/piri --verify",
				Flags: append(settingFlags(mountopts.Backend),
					&cli.BoolFlag{Name: "verify", Usage: "hash each blob behind a subroot against its name"},
					&cli.BoolFlag{Name: "verify-commp", Usage: "compute each blob's commP against its subroot's piece CID"},
					&cli.BoolFlag{Name: "json", Usage: "one JSON object a proof set"},
				),
				Action: pdpStatus,
			},
			{
				Name:      "piece",
				Usage:     "blob ↔ piece ↔ proof set ↔ root: where a blob or a piece stands in the node's proofs",
				ArgsUsage: "PIECE|BLOB...",
				UsageText: "storefs pdp piece [backend] [--json] PIECE|BLOB...\n\nA PIECE is a piece CID (v2, bafkzcib…); a BLOB a b32 name, CID or base58btc\nmultihash. For each: the blob, its piece CID and sizes, and every proof set\nroot that holds the piece (its root id, offset and the root's piece CID); for\none in no root, how far it got (commP and aggregation jobs, the aggregator's\nbuffer, the aggregate that holds it and whether that is being added). A\nPIECE that is an aggregate shows its pieces, their blobs, and its state.\n\nExample:\n   storefs pdp piece --data-dir /var/lib/piri ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i",
				Flags: append(settingFlags(mountopts.Backend),
					&cli.BoolFlag{Name: "json", Usage: "one JSON object an argument"},
				),
				Action: pdpPiece,
			},
			{
				Name:      "commp",
				Usage:     "the piece CID (commP, piece CID v2) of files or blobs, as Piri computes it; prints \"<piece CID>\\t<padded size>\\t<ARG>\"",
				ArgsUsage: "FILE|BLOB...",
				UsageText: "storefs pdp commp [backend] FILE|BLOB...\n\nA FILE is read from the local filesystem; a BLOB (b32 name, CID or base58btc\nmultihash) from the node's store. Under 127 bytes there is no commP.\n\nExample:\n   storefs pdp commp --data-dir /var/lib/piri ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i",
				Flags:     settingFlags(mountopts.Backend),
				Action:    pdpCommP,
			},
		},
	}
}

// openState opens the node's PDP state, which is local, also for a node
// whose blobs are on S3.
func openState(c *cli.Context) (*pdpstate.DB, mountopts.Settings, error) {
	st, err := settings(c, mountopts.Backend, false)
	if err != nil {
		return nil, st, err
	}
	if st.Store.DataDir == "" {
		return nil, st, usagef("PDP state is local: name the data dir (--data-dir, or a Piri --config naming its data_dir)")
	}
	db, err := openPDPState(c.Context, st)
	return db, st, err
}

// openPDP opens the node's blob store and its PDP state.
func openPDP(c *cli.Context) (*node.Stores, *pdpstate.DB, error) {
	db, st, err := openState(c)
	if err != nil {
		return nil, nil, err
	}
	stores, err := openBlobs(c, st)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return stores, db, nil
}

type subrootJSON struct {
	ProofSet int64  `json:"proofset,omitempty"`
	RootID   int64  `json:"root_id"`
	Root     string `json:"root"`
	Offset   uint64 `json:"offset"`
	Size     uint64 `json:"size"`
	Piece    string `json:"piece"`
	Blob     string `json:"blob,omitempty"`
	Risk     string `json:"risk"`
	// Probability is what this subroot alone adds to a period's failure.
	Probability float64 `json:"probability"`
}

type setJSON struct {
	ID                 int64              `json:"proofset"`
	Roots              int                `json:"roots"`
	Subroots           int                `json:"subroots"`
	Bytes              uint64             `json:"bytes"`
	AtRiskBytes        uint64             `json:"at_risk_bytes"`
	FailureProbability float64            `json:"period_failure_probability"`
	NextChallengeEpoch int64              `json:"next_challenge_epoch"`
	ProvingPeriod      int64              `json:"proving_period"`
	ChallengeWindow    int64              `json:"challenge_window"`
	PendingAdds        int                `json:"pending_root_adds"`
	FailedAdds         int                `json:"failed_root_adds"`
	BadOffsets         []string           `json:"bad_root_offsets"`
	AtRisk             []subrootJSON      `json:"at_risk"`
	ProveFailures      []pdpstate.Failure `json:"last_prove_failures"`
}

func pdpStatus(c *cli.Context) error {
	if err := args(c, 0, 0); err != nil {
		return err
	}
	stores, db, err := openPDP(c)
	if err != nil {
		return err
	}
	defer stores.Close()
	defer db.Close()
	enc := json.NewEncoder(c.App.Writer)
	cfg := proofrisk.Config{Verify: c.Bool("verify"), VerifyCommP: c.Bool("verify-commp"), Failures: 3}
	sets := 0
	err = proofrisk.Run(c.Context, db, stores.Blobs, cfg, func(set proofrisk.Set, subs []proofrisk.Subroot) error {
		sets++
		j := setJSON{ID: set.ID, Roots: set.Roots, Subroots: set.Subroots, Bytes: set.Bytes(), AtRiskBytes: set.AtRiskBytes(),
			FailureProbability: set.FailureProbability, NextChallengeEpoch: set.ProveAtEpoch, ProvingPeriod: set.ProvingPeriod,
			ChallengeWindow: set.ChallengeWindow, PendingAdds: set.PendingAdds, FailedAdds: set.FailedAdds,
			BadOffsets: append([]string{}, set.BadOffsets...), AtRisk: []subrootJSON{}, ProveFailures: append([]pdpstate.Failure{}, set.ProveFailures...)}
		for _, s := range subs {
			if s.Risk == "" {
				continue
			}
			sj := subrootJSON{RootID: s.RootID, Root: s.Root, Offset: s.Offset, Size: s.Size, Piece: s.Piece, Risk: s.Risk,
				Probability: proofrisk.PeriodFailure(s.Size/proofrisk.LeafSize, set.Leaves)}
			if s.Blob != nil {
				sj.Blob = blobstore.Name(s.Blob)
			}
			j.AtRisk = append(j.AtRisk, sj)
		}
		if c.Bool("json") {
			return enc.Encode(j)
		}
		printSet(c.App.Writer, j)
		return nil
	})
	if err != nil {
		return err
	}
	if sets == 0 && !c.Bool("json") {
		fmt.Fprintf(c.App.Writer, "no proof sets in %s\n", db.File())
	}
	return pipelineStatus(c, db, enc)
}

// pipelineStatus ends pdp status with what is on its way into proofs.
func pipelineStatus(c *cli.Context, db *pdpstate.DB, enc *json.Encoder) error {
	st, err := settings(c, mountopts.Backend, false)
	if err != nil {
		return err
	}
	openAgg, jobs, err := openPipeline(c.Context, st)
	if err != nil {
		return err
	}
	sum, err := pdppipeline.Summarize(c.Context, db, openAgg, jobs)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return enc.Encode(struct {
			Pipeline pdppipeline.Summary `json:"pipeline"`
		}{sum})
	}
	w := c.App.Writer
	fmt.Fprintln(w, "on their way into proofs:")
	switch sum.Aggregator {
	case "locked":
		fmt.Fprintln(w, "  the aggregator's buffer and aggregates: unknown (the running node holds its LevelDB)")
	case "none":
		fmt.Fprintln(w, "  no aggregator datastore")
	default:
		fmt.Fprintf(w, "  buffer: %d pieces, %s padded\n", sum.Buffer.Pieces, humanize.IBytes(sum.Buffer.Bytes))
	}
	fmt.Fprintf(w, "  aggregates waiting to be added: %d\n", len(sum.AwaitingRootAdd))
	for _, task := range []string{jobqueue.Commp, jobqueue.Aggregate, jobqueue.AddRoots} {
		j := sum.Jobs[task]
		fmt.Fprintf(w, "  %s jobs: %d queued, %d dead", task, j.Queued, j.Dead)
		if j.LastError != "" {
			fmt.Fprintf(w, " (last: %s)", j.LastError)
		}
		fmt.Fprintln(w)
	}
	return nil
}

func printSet(w io.Writer, j setJSON) {
	fmt.Fprintf(w, "proof set %d: %d roots, %d subroots, %s padded", j.ID, j.Roots, j.Subroots, humanize.IBytes(j.Bytes))
	if j.NextChallengeEpoch > 0 {
		fmt.Fprintf(w, "; next challenge at epoch %d (proving period %d, window %d)", j.NextChallengeEpoch, j.ProvingPeriod, j.ChallengeWindow)
	}
	fmt.Fprintln(w)
	if len(j.AtRisk) == 0 {
		fmt.Fprintln(w, "  nothing at risk")
	} else {
		fmt.Fprintf(w, "  at risk: %d subroots, %s: a proving period fails with probability %.4g\n", len(j.AtRisk), humanize.IBytes(j.AtRiskBytes), j.FailureProbability)
		for _, s := range j.AtRisk {
			blob := s.Blob
			if blob == "" {
				blob = "(no blob: no commP row names the piece)"
			}
			fmt.Fprintf(w, "    root %d at %d, %s: %s %s, %s (adds %.4g)\n", s.RootID, s.Offset, humanize.IBytes(s.Size), s.Piece, blob, s.Risk, s.Probability)
		}
	}
	if j.PendingAdds > 0 || j.FailedAdds > 0 {
		fmt.Fprintf(w, "  root adds: %d pending, %d failed", j.PendingAdds, j.FailedAdds)
		if j.FailedAdds > 0 {
			fmt.Fprintf(w, " (Piri does not retry a failed add: piri client pdp proofset repair)")
		}
		fmt.Fprintln(w)
	}
	for _, r := range j.BadOffsets {
		fmt.Fprintf(w, "  bad root offsets: %s\n", r)
	}
	for _, f := range j.ProveFailures {
		fmt.Fprintf(w, "  prove failed at %s: %s\n", f.At, f.Err)
	}
}

type pieceJSON struct {
	Query    string        `json:"query"`
	Blob     string        `json:"blob,omitempty"`
	Piece    string        `json:"piece,omitempty"`
	Size     int64         `json:"size,omitempty"`
	Padded   uint64        `json:"padded_size,omitempty"`
	Subroots []subrootJSON `json:"subroots"`
	// Pipeline is where a piece in no root got to.
	Pipeline *pdppipeline.Where `json:"pipeline,omitempty"`
}

// describeWhere words how far a piece got.
func describeWhere(w pdppipeline.Where) string {
	switch w.Stage {
	case "commp-queued":
		return "its commP job is queued"
	case "commp-dead":
		return "its commP job was dead-lettered: " + w.Error
	case "aggregate-queued":
		return "its aggregation job is queued"
	case "aggregate-dead":
		return "its aggregation job was dead-lettered: " + w.Error
	case "buffer":
		return "in the aggregator's buffer"
	case "aggregate":
		s := fmt.Sprintf("in aggregate %s at offset %d, %s", w.Aggregate, w.Offset, w.AggregateState)
		if w.Error != "" {
			s += ": " + w.Error
		}
		return s
	case "unknown":
		return "where is unknown: " + w.Error
	}
	return "nowhere in the pipeline (no queue, buffer or aggregate holds it)"
}

// aggregateJSON is an aggregate named by storefs pdp piece.
type aggregateJSON struct {
	Query     string               `json:"query"`
	Aggregate string               `json:"aggregate"`
	State     string               `json:"state"`
	Error     string               `json:"error,omitempty"`
	Roots     []pdpstate.RootRef   `json:"roots,omitempty"`
	Pieces    []aggregatePieceJSON `json:"pieces"`
}

type aggregatePieceJSON struct {
	Piece  string `json:"piece"`
	Offset uint64 `json:"offset"`
	Blob   string `json:"blob,omitempty"`
}

// aggregateOf reads the aggregate whose root is root, and how far it got.
func aggregateOf(ctx context.Context, db *pdpstate.DB, openAgg func() (*aggregator.DB, error), jobs pdppipeline.Jobs, root string) (aggregateJSON, bool, error) {
	adb, err := openAgg()
	if errors.Is(err, aggregator.ErrNone) {
		return aggregateJSON{}, false, nil
	}
	if err != nil {
		return aggregateJSON{}, false, err
	}
	defer adb.Close()
	agg, err := adb.Aggregate(ctx, root)
	if errors.Is(err, aggregator.ErrNotFound) {
		return aggregateJSON{}, false, nil
	}
	if err != nil {
		return aggregateJSON{}, false, err
	}
	submission, err := adb.Submission(ctx)
	if err != nil {
		return aggregateJSON{}, false, err
	}
	states, err := pdppipeline.ReadStates(ctx, db, jobs, submission)
	if err != nil {
		return aggregateJSON{}, false, err
	}
	j := aggregateJSON{Aggregate: root, Pieces: []aggregatePieceJSON{}}
	j.State, j.Roots, j.Error = states.Of(root)
	for _, p := range agg.Pieces {
		ap := aggregatePieceJSON{Piece: p.Piece}
		ap.Offset, _ = p.Offset()
		if pp, ok, err := db.PieceByCID(ctx, p.Piece); err == nil && ok {
			ap.Blob = blobstore.Name(pp.Digest)
		}
		j.Pieces = append(j.Pieces, ap)
	}
	return j, true, nil
}

func printAggregate(c *cli.Context, enc *json.Encoder, query string, j aggregateJSON) error {
	j.Query = query
	if c.Bool("json") {
		return enc.Encode(j)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "%s\n  an aggregate of %d pieces: %s", query, len(j.Pieces), j.State)
	if j.Error != "" {
		fmt.Fprintf(w, ": %s", j.Error)
	}
	fmt.Fprintln(w)
	for _, r := range j.Roots {
		fmt.Fprintf(w, "  proof set %d, root %d\n", r.ProofSet, r.RootID)
	}
	for _, p := range j.Pieces {
		blob := p.Blob
		if blob == "" {
			blob = "(no commP row names it)"
		}
		fmt.Fprintf(w, "  offset %d: piece %s, blob %s\n", p.Offset, p.Piece, blob)
	}
	return nil
}

func pdpPiece(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("name at least one PIECE or BLOB")
	}
	db, st, err := openState(c)
	if err != nil {
		return err
	}
	defer db.Close()
	openAgg, jobs, err := openPipeline(c.Context, st)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(c.App.Writer)
	var unknown []string
	for _, a := range c.Args().Slice() {
		var p pdpstate.Piece
		var ok bool
		if pc, err := cid.Decode(a); err == nil && pc.Prefix().MhType == 0x1011 {
			p, ok, err = db.PieceByCID(c.Context, pc.String())
			if err != nil {
				return err
			}
			if !ok {
				p.CID = pc.String() // a piece in proofs whose blob no row names
			}
		} else {
			d, err := blobstore.ParseName(a)
			if err != nil {
				return usagef("%q: neither a piece CID nor a blob name", a)
			}
			if p, ok, err = db.PieceOf(c.Context, d); err != nil {
				return err
			}
			if !ok { // no piece yet: its commP job may say why
				where, err := pdppipeline.Locate(c.Context, db, openAgg, jobs, "", d)
				if err != nil {
					return err
				}
				if where.Stage == "none" {
					unknown = append(unknown, a)
					continue
				}
				j := pieceJSON{Query: a, Blob: blobstore.Name(d), Subroots: []subrootJSON{}, Pipeline: &where}
				if c.Bool("json") {
					if err := enc.Encode(j); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(c.App.Writer, "%s\n  blob %s\n  no piece yet: %s\n", a, j.Blob, describeWhere(where))
				continue
			}
		}
		j := pieceJSON{Query: a, Piece: p.CID, Size: p.Size, Subroots: []subrootJSON{}}
		if p.Digest != nil {
			j.Blob = blobstore.Name(p.Digest)
		}
		if pc, err := cid.Decode(p.CID); err == nil {
			_, j.Padded, _ = piece.Sizes(pc)
		}
		subs, err := db.SubrootsOfPiece(c.Context, p.CID)
		if err != nil {
			return err
		}
		for _, s := range subs {
			j.Subroots = append(j.Subroots, subrootJSON{RootID: s.RootID, Root: s.Root, Offset: s.Offset, Size: s.Size, Piece: s.Piece, Blob: j.Blob, ProofSet: s.ProofSet})
		}
		if !ok && len(subs) == 0 {
			agg, found, err := aggregateOf(c.Context, db, openAgg, jobs, p.CID)
			if err != nil {
				return err
			}
			if !found {
				unknown = append(unknown, a)
				continue
			}
			if err := printAggregate(c, enc, a, agg); err != nil {
				return err
			}
			continue
		}
		if len(subs) == 0 {
			var digest []byte
			if p.Digest != nil {
				digest = p.Digest
			}
			where, err := pdppipeline.Locate(c.Context, db, openAgg, jobs, p.CID, digest)
			if err != nil {
				return err
			}
			j.Pipeline = &where
		}
		if c.Bool("json") {
			if err := enc.Encode(j); err != nil {
				return err
			}
			continue
		}
		blob := j.Blob
		if blob == "" {
			blob = "(no commP row names it: unresolvable)"
		}
		fmt.Fprintf(c.App.Writer, "%s\n  blob %s\n  piece %s, %d bytes, padded %d\n", a, blob, j.Piece, j.Size, j.Padded)
		if w := j.Pipeline; w != nil {
			fmt.Fprintf(c.App.Writer, "  in no proof set root: %s\n", describeWhere(*w))
		}
		for _, s := range subs {
			fmt.Fprintf(c.App.Writer, "  proof set %d, root %d (%s), offset %d\n", s.ProofSet, s.RootID, s.Root, s.Offset)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("no PDP piece: %s", strings.Join(unknown, ", "))
	}
	return nil
}

func pdpCommP(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("name at least one FILE or BLOB")
	}
	var stores *node.Stores
	defer func() {
		if stores != nil {
			stores.Close()
		}
	}()
	failed := 0
	for _, a := range c.Args().Slice() {
		var r io.ReadCloser
		if fi, err := os.Stat(a); err == nil && fi.Mode().IsRegular() {
			if r, err = os.Open(a); err != nil {
				return err
			}
		} else {
			d, err := blobstore.ParseName(a)
			if err != nil {
				return usagef("%q: neither a file nor a blob name", a)
			}
			if stores == nil {
				st, err := settings(c, mountopts.Backend, false)
				if err != nil {
					return err
				}
				if stores, err = openBlobs(c, st); err != nil {
					return err
				}
			}
			if r, err = stores.Blobs.Get(c.Context, d); err != nil {
				fmt.Fprintf(c.App.ErrWriter, "storefs: pdp commp %s: %v\n", a, err)
				failed++
				continue
			}
		}
		pc, padded, err := piece.Of(r)
		r.Close()
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "storefs: pdp commp %s: %v\n", a, err)
			failed++
			continue
		}
		fmt.Fprintf(c.App.Writer, "%s\t%d\t%s\n", pc, padded, a)
	}
	if failed > 0 {
		return silentError{fmt.Errorf("%d failed", failed)}
	}
	return nil
}
