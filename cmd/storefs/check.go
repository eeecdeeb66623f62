package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/engine/check"
	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/catalog"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/objectstore/dsadapter"
	"github.com/storacha/storefs/store/pdpstate"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "audit a node's store: what will fail (exit 0 clean, 1 problems, 3 could not complete)",
		UsageText: `storefs check [backend] [--verify|--verify-commp [--jobs N] [--bwlimit RATE]] [--json] [--prom FILE]

Joins the node's records against its blobs and reports, by name:
  missing-blob        an acceptance whose blob is not stored (PDP challenges on it fail)
  size-mismatch       a stored blob's size differs from its acceptance or allocation
  hash-mismatch       (--verify) the stored bytes do not hash to the blob's multihash
  orphan-blob         a stored blob with neither an allocation nor an acceptance
  legacy-key          an S3 blob only under Piri v0.2.3's bare key (v0.2.4 cannot find it)
  dangling-index      a ran-index entry whose receipt is missing
  undecodable-record  a record or retrieval-journal batch that does not decode
  bad-slice           (--verify) a block an index places in a shard does not hash to it
and where the data dir holds PDP state (pdp/state/state.db, read beside Piri):
  proof-at-risk        a subroot's blob is missing, of another size, or (--verify,
                       --verify-commp) bad: each line says what it adds to the chance
                       its proof set fails a proving period
  unresolvable-subroot no commP row names a subroot's piece
  bad-root-offsets     a root's subroots are not back to back, or its size is wrong
  stuck-root-add       a root add whose transaction failed (piri client pdp proofset repair)
  dead-commp           a blob accepted for PDP whose commP job was dead-lettered
  dead-aggregation     a blob whose piece's aggregation (or its aggregate's add) was
                       dead-lettered
  unproven             a blob accepted for PDP longer than --unproven-after ago (24h)
                       in no root, root add, aggregate, buffer or queue: lost
and, as information: too-small-for-pdp, awaiting-aggregation, awaiting-root-add,
unproven-recent, pipeline-unknown (the aggregator is locked by the running node), pending-allocation, expired-allocation, both-keys,
unconsolidated-batch (egress in the retrieval journal not yet paid for),
upload (an index whose shards are all here), shard-elsewhere (a shard an
index here names, stored on another node: normal).

The catalogue of what each blob is (--catalog-dir) is refreshed first.

It never writes to the store. A running node holds its LevelDB locks:
copy the data dir (cp -a) and check the copy. Blobs on S3 can be
checked live.

Example:
   storefs check --data-dir /var/lib/piri
   storefs check --config /etc/piri/config.toml --verify --bwlimit 64M --prom /var/lib/node_exporter/storefs.prom`,
		Flags: append(settingFlags(mountopts.Backend),
			&cli.BoolFlag{Name: "verify", Usage: "also re-hash every blob (reads every byte)"},
			&cli.BoolFlag{Name: "json", Usage: "NDJSON on stdout: one object per finding, then {\"summary\": …}"},
			&cli.StringFlag{Name: "prom", Usage: "write a node_exporter textfile to `FILE` (atomically)"},
			&cli.BoolFlag{Name: "verify-commp", Usage: "--verify, and the commP of each blob behind a PDP piece in the same read"},
			&cli.DurationFlag{Name: "unproven-after", Value: 24 * time.Hour, Usage: "a blob accepted for PDP and nowhere in the pipeline after `DUR` is a problem (before, information)"},
			&cli.IntFlag{Name: "jobs", Value: 4, Usage: "`N` reads at once (records, and blobs under --verify)"},
			&cli.StringFlag{Name: "bwlimit", Usage: "cap --verify's reads at `RATE` bytes per second (K, M, G: 64M is 64 MiB/s)"},
		),
		Action: runCheck,
	}
}

// exampleCount is how many findings of each name the summary shows.
const exampleCount = 3

func runCheck(c *cli.Context) error {
	if err := args(c, 0, 0); err != nil {
		return err
	}
	cfg := check.Config{Verify: c.Bool("verify"), VerifyCommP: c.Bool("verify-commp"), Jobs: c.Int("jobs"), UnprovenAfter: c.Duration("unproven-after")}
	if cfg.UnprovenAfter <= 0 {
		return usagef("--unproven-after must be a positive duration (e.g. 24h), not %s", cfg.UnprovenAfter)
	}
	if cfg.Jobs < 1 {
		return usagef("--jobs %d: want at least 1", cfg.Jobs)
	}
	if s := c.String("bwlimit"); s != "" {
		n, err := mountopts.ParseSize(s, 1)
		if err != nil || n <= 0 {
			return usagef("--bwlimit %q: want bytes per second, e.g. 64M", s)
		}
		if !cfg.Verify && !cfg.VerifyCommP {
			return usagef("--bwlimit limits --verify's reads: give both")
		}
		cfg.BWLimit = n
	}
	prom := c.String("prom")
	if prom != "" {
		if fi, err := os.Stat(filepath.Dir(prom)); err != nil || !fi.IsDir() {
			return usagef("--prom %s: no such directory %s", prom, filepath.Dir(prom))
		}
	}
	st, err := settings(c, mountopts.Backend, false)
	if err != nil {
		return err
	}
	if st.Warning != "" {
		// An empty memory store would check clean: that proves nothing.
		return usagef("name the store to check (--data-dir, --s3-endpoint or --config): no backend named and no Piri config found")
	}
	if st.Found != "" {
		fmt.Fprintf(c.App.ErrWriter, "storefs: using the Piri config %s\n", st.Found)
	}
	log := newLogger(c.App.ErrWriter, "text", false)
	cfg.Log = log
	start := time.Now()
	incomplete := func(err error) error {
		if prom != "" {
			if perr := writeProm(prom, check.Summary{}, false, start); perr != nil {
				fmt.Fprintf(c.App.ErrWriter, "storefs: %v\n", perr)
			}
		}
		return incompleteError{err}
	}
	stores, err := node.Open(c.Context, st.Store)
	if err != nil {
		if errors.Is(err, dsadapter.ErrLocked) {
			err = fmt.Errorf("%w\nA running node holds its record stores: copy the data dir and check the copy, e.g.\n  cp -a %s /tmp/piri-snapshot && storefs check --data-dir /tmp/piri-snapshot", err, st.Store.DataDir)
		}
		return incomplete(fmt.Errorf("open %s: %w", st.Store, err))
	}
	defer stores.Close()
	for _, a := range stores.Absent {
		log.Info("record store absent: checked as empty", "store", a)
	}
	if cat := checkCatalog(c, st, stores, log); cat != nil {
		defer cat.Close()
		cfg.Catalog = cat
	}
	if st.Store.DataDir != "" {
		switch db, err := openPDPState(c.Context, st); {
		case err == nil:
			defer db.Close()
			cfg.PDP = db
			dataDir := st.Store.DataDir
			cfg.Aggregator = func() (*aggregator.DB, error) { return aggregator.Open(dataDir) }
			switch q, err := openJobQueue(c.Context, st); {
			case err == nil:
				defer q.Close()
				cfg.JobQueue = q
			case errors.Is(err, jobqueue.ErrNone):
				log.Info("no aggregator job queues: no job is waiting or dead", "err", err)
			default:
				return incomplete(fmt.Errorf("aggregator job queues: %w", err))
			}
		case errors.Is(err, pdpstate.ErrNoState):
			log.Info("no PDP state: proofs not checked", "err", err)
		default:
			return incomplete(fmt.Errorf("PDP state: %w", err))
		}
	}
	if os.Getenv("GOGC") == "" {
		// A check holds a table of every blob, and with PDP state every
		// piece: half the default headroom keeps a million-blob node's
		// check near 400 MiB for ~1 % more time collecting.
		debug.SetGCPercent(50)
	}
	log.Info("checking", "store", st.Store.String(), "verify", cfg.Verify, "jobs", cfg.Jobs)

	out := newReport(c.App.Writer, c.Bool("json"))
	bar := newCheckBar(c)
	cfg.Progress = bar.set
	sum, err := check.Run(c.Context, check.Stores{Blobs: stores.Blobs, Stores: stores.Stores, Journal: stores.Journal}, cfg, out.finding)
	bar.done()
	if err != nil {
		out.flush()
		return incomplete(err)
	}
	if err := out.summary(sum, st.Store.String(), time.Since(start)); err != nil {
		return err
	}
	if prom != "" {
		if err := writeProm(prom, sum, true, start); err != nil {
			return err
		}
	}
	if sum.Failed() {
		return silentError{errors.New("problems found")}
	}
	return nil
}

// incompleteError is a check that could not complete: exit 3.
type incompleteError struct{ error }

func (e incompleteError) Unwrap() error { return e.error }

// report writes findings as they come: NDJSON, or for people a summary
// with the first few of each.
type report struct {
	w        *bufio.Writer
	json     bool
	examples map[string][]check.Finding
}

func newReport(w io.Writer, asJSON bool) *report {
	return &report{w: bufio.NewWriter(w), json: asJSON, examples: map[string][]check.Finding{}}
}

func (r *report) finding(f check.Finding) {
	if r.json {
		line, _ := json.Marshal(f)
		r.w.Write(append(line, '\n'))
		return
	}
	if ex := r.examples[f.Name()]; len(ex) < exampleCount {
		r.examples[f.Name()] = append(ex, f)
	}
}

func (r *report) flush() { r.w.Flush() }

func (r *report) summary(sum check.Summary, store string, took time.Duration) error {
	defer r.w.Flush()
	if r.json {
		line, err := json.Marshal(map[string]check.Summary{"summary": sum})
		if err != nil {
			return err
		}
		r.w.Write(append(line, '\n'))
		return r.w.Flush()
	}
	w := r.w
	fmt.Fprintf(w, "checked %s in %s\n", store, took.Round(time.Millisecond))
	fmt.Fprintf(w, "  %d blobs, %s (%d bytes)", sum.Blobs, humanize.IBytes(uint64(sum.Bytes)), sum.Bytes)
	if sum.Verified > 0 {
		fmt.Fprintf(w, ", %d re-hashed", sum.Verified)
	}
	fmt.Fprintln(w)
	var kinds []string
	for _, k := range slices.Sorted(maps.Keys(sum.Records)) {
		kinds = append(kinds, fmt.Sprintf("%d %s", sum.Records[k], k))
	}
	if len(kinds) > 0 {
		fmt.Fprintf(w, "  records read: %s\n", strings.Join(kinds, ", "))
	}
	section := func(title string, names []string, counts map[string]int) {
		fmt.Fprintf(w, "%s:\n", title)
		for _, n := range names {
			fmt.Fprintf(w, "  %-22s %d\n", n, counts[n])
			for _, f := range r.examples[n] {
				fmt.Fprintf(w, "      %s\n", describe(f))
			}
			if more := counts[n] - len(r.examples[n]); more > 0 && len(r.examples[n]) > 0 {
				fmt.Fprintf(w, "      … and %d more (--json lists every one)\n", more)
			}
			if fix := check.TypeOf(n).Fix; counts[n] > 0 && fix != "" {
				fmt.Fprintf(w, "      what to do: %s\n", fix)
			}
		}
	}
	section("problems", check.ProblemNames, sum.Problems)
	section("information", check.InfoNames, sum.Info)
	total := 0
	for _, n := range sum.Problems {
		total += n
	}
	if total == 0 {
		fmt.Fprintln(w, "no problems found")
	} else {
		fmt.Fprintf(w, "%d problems found\n", total)
	}
	return w.Flush()
}

func describe(f check.Finding) string {
	var parts []string
	if f.Blob != "" {
		parts = append(parts, f.Blob)
	}
	if f.Kind != "" && f.Key != "" {
		parts = append(parts, f.Kind+"/"+f.Key)
	}
	if f.Space != "" && f.Blob == "" {
		parts = append(parts, "space "+f.Space)
	}
	s := strings.Join(parts, " ")
	if f.Detail != "" {
		s += ": " + f.Detail
	}
	return s
}

// writeProm writes a node_exporter textfile: written beside the target,
// then renamed over it, so the collector never reads half a file.
func writeProm(path string, sum check.Summary, ok bool, at time.Time) error {
	var b strings.Builder
	b.WriteString("# HELP storefs_check_problems Problems storefs check found, by name.\n# TYPE storefs_check_problems gauge\n")
	for _, n := range check.ProblemNames {
		fmt.Fprintf(&b, "storefs_check_problems{problem=%q} %d\n", n, sum.Problems[n])
	}
	b.WriteString("# HELP storefs_check_info Information storefs check reported, by name.\n# TYPE storefs_check_info gauge\n")
	for _, n := range check.InfoNames {
		fmt.Fprintf(&b, "storefs_check_info{info=%q} %d\n", n, sum.Info[n])
	}
	success := 0
	if ok {
		success = 1
	}
	fmt.Fprintf(&b, "# HELP storefs_check_blobs Distinct blobs stored.\n# TYPE storefs_check_blobs gauge\nstorefs_check_blobs %d\n", sum.Blobs)
	fmt.Fprintf(&b, "# HELP storefs_check_bytes Bytes of the blobs stored.\n# TYPE storefs_check_bytes gauge\nstorefs_check_bytes %d\n", sum.Bytes)
	if len(sum.PDP) > 0 {
		ids := make([]int64, 0, len(sum.PDP))
		for id := range sum.PDP {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		b.WriteString("# HELP storefs_pdp_at_risk_bytes Padded bytes of a proof set's subroots whose blobs would fail a challenge.\n# TYPE storefs_pdp_at_risk_bytes gauge\n")
		for _, id := range ids {
			fmt.Fprintf(&b, "storefs_pdp_at_risk_bytes{proofset=\"%d\"} %d\n", id, sum.PDP[id].AtRiskBytes)
		}
		b.WriteString("# HELP storefs_pdp_period_failure_probability The chance a proof set fails a proving period, from the subroots at risk.\n# TYPE storefs_pdp_period_failure_probability gauge\n")
		for _, id := range ids {
			fmt.Fprintf(&b, "storefs_pdp_period_failure_probability{proofset=\"%d\"} %g\n", id, sum.PDP[id].FailureProbability)
		}
	}
	fmt.Fprintf(&b, "# HELP storefs_check_timestamp_seconds When the check ran.\n# TYPE storefs_check_timestamp_seconds gauge\nstorefs_check_timestamp_seconds %d\n", at.Unix())
	fmt.Fprintf(&b, "# HELP storefs_check_success 1 when the check completed, 0 when it could not.\n# TYPE storefs_check_success gauge\nstorefs_check_success %d\n", success)
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // gone after the rename; left only by a failure
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// checkBar is --verify's progress bar (with an ETA, on a terminal
// only), made once the check knows the total.
type checkBar struct {
	c    *cli.Context
	once sync.Once
	bar  progress
}

func newCheckBar(c *cli.Context) *checkBar { return &checkBar{c: c} }

func (b *checkBar) set(done, total int64) {
	b.once.Do(func() { b.bar = newProgress(b.c, total, "verify") })
	b.bar.set(done)
}

func (b *checkBar) done() { b.bar.done() }

// checkCatalog opens the store's catalogue and refreshes it, for the
// upload information and --verify's slices; without one the check goes
// on without them.
func checkCatalog(c *cli.Context, st mountopts.Settings, stores *node.Stores, log *slog.Logger) *catalog.Catalog {
	cat, err := catalog.Open(st.CatalogDir, st.Store.Key())
	if err != nil {
		log.Warn("no catalogue: checked without the upload information", "err", err)
		return nil
	}
	sum, err := cat.Refresh(c.Context, stores.Blobs, catalog.Options{Log: log})
	switch {
	case errors.Is(err, catalog.ErrBusy):
		log.Info("the catalogue is being refreshed by another process: checked with what it has", "err", err)
	case err != nil:
		log.Warn("the catalogue could not be refreshed: checked with what it has", "err", err)
	default:
		log.Info("catalogue up to date", "read", sum.Read, "indexes", sum.Indexes, "dropped", sum.Dropped)
	}
	return cat
}
