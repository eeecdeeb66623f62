package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/storacha/storefs/engine/copy"
	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/objectstore/dsadapter"
)

func copyCommand() *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy a node's blobs and records to another backend, in Piri's layouts (verified, resumable)",
		ArgsUsage: "SRC DST",
		UsageText: `storefs copy [flags] SRC DST

SRC and DST are each a data dir path, a Piri config file (*.toml), or
s3://PREFIX@HOST:PORT (credentials from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY; two S3 sides needing different credentials are
each given as a Piri config file). Missing buckets and directories are
created, and the destination is written as Piri v0.2.4 writes it.

Blobs are hashed as they stream: one that does not match its multihash
is named and not written. A blob's allocation and acceptance are
written only once the blob is at the destination. What the destination
already holds is skipped, so after Ctrl-C or a crash the same command
finishes the job. The keystore (wallet/) and the local-only stores are
never copied. Blobs can be copied from a running node (--only blobs);
its records only from a stopped node or a copy of its data dir.

Examples:
   storefs copy /var/lib/piri s3://node1-@10.0.0.5:9000 --s3-insecure
   storefs copy --only blobs --bwlimit 64M /var/lib/piri /etc/piri/new-config.toml`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "only", Usage: "copy only `PART`: blobs or records"},
			&cli.IntFlag{Name: "jobs", Value: 4, Usage: "`N` objects copied at once"},
			&cli.StringFlag{Name: "bwlimit", Usage: "read at most `RATE` bytes per second (K, M, G: 64M is 64 MiB/s)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "count what would be copied; write nothing"},
			&cli.BoolFlag{Name: "verify-existing", Usage: "re-hash blobs the destination holds (and copy again any that do not match)"},
			&cli.BoolFlag{Name: "overwrite", Usage: "replace destination records whose bytes differ (otherwise a conflict)"},
			&cli.BoolFlag{Name: "json", Usage: "the summary as one JSON object on stdout"},
			&cli.BoolFlag{Name: "s3-insecure", Usage: "plain http for s3:// sides"},
			&cli.StringFlag{Name: "s3-region", Usage: "the `REGION` s3:// sides are signed for (default: asked of the server)"},
			&cli.StringFlag{Name: "timeout", Value: "30s", Usage: "bound on each backend request, retries included"},
		},
		Action: runCopy,
	}
}

func runCopy(c *cli.Context) error {
	if err := args(c, 2, 2); err != nil {
		return err
	}
	opts := copy.Options{Only: c.String("only"), Jobs: c.Int("jobs"), DryRun: c.Bool("dry-run"),
		VerifyExisting: c.Bool("verify-existing"), Overwrite: c.Bool("overwrite")}
	switch opts.Only {
	case copy.All, copy.Blobs, copy.Records:
	default:
		return usagef("--only %q: want blobs or records", opts.Only)
	}
	if opts.Jobs < 1 {
		return usagef("--jobs %d: want at least 1", opts.Jobs)
	}
	if s := c.String("bwlimit"); s != "" {
		n, err := mountopts.ParseSize(s, 1)
		if err != nil || n <= 0 {
			return usagef("--bwlimit %q: want bytes per second, e.g. 64M", s)
		}
		opts.BWLimit = n
	}
	src, err := copySide(c, c.Args().Get(0))
	if err != nil {
		return err
	}
	dst, err := copySide(c, c.Args().Get(1))
	if err != nil {
		return err
	}
	if src.String() == dst.String() {
		return usagef("SRC and DST are the same store (%s)", src)
	}
	log := newLogger(c.App.ErrWriter, "text", false)
	opts.Log = log

	src.BlobsOnly = opts.Only == copy.Blobs
	from, err := node.Open(c.Context, src)
	if err != nil {
		if errors.Is(err, dsadapter.ErrLocked) {
			return fmt.Errorf("open the source %s: %w\nA running node holds its records: copy them from a stopped node or a copy of its data dir (cp -a); blobs can be copied live with --only blobs", src, err)
		}
		return fmt.Errorf("open the source %s: %w", src, err)
	}
	defer from.Close()
	to, err := openDestination(c.Context, dst, opts)
	if err != nil {
		return err
	}
	defer to.Close()

	log.Info("copying", "from", src.String(), "to", dst.String(), "only", opts.Only, "jobs", opts.Jobs, "dry_run", opts.DryRun)
	progress := &copy.Progress{}
	stop := showProgress(c.App.ErrWriter, progress, log)
	sum, err := copy.Run(c.Context,
		copy.Stores{Blobs: from.Blobs, Stores: from.Stores},
		copy.Stores{Blobs: to.Blobs, Stores: to.Stores}, opts, progress)
	stop()
	if perr := printCopySummary(c.App.Writer, sum, c.Bool("json")); perr != nil {
		return perr
	}
	if err != nil {
		return fmt.Errorf("copy stopped: %w", err)
	}
	if !sum.OK() {
		return silentError{errors.New("copy incomplete")}
	}
	return nil
}

// copySide reads SRC or DST into a backend, with the S3 settings the
// command was given; credentials come from the environment or the Piri
// config, never from the command line.
func copySide(c *cli.Context, side string) (node.Config, error) {
	flags := map[string]string{"timeout": c.String("timeout")}
	// The S3 flags are for s3:// sides; a Piri config says its own.
	if strings.HasPrefix(side, "s3://") {
		if c.Bool("s3-insecure") {
			flags["s3-insecure"] = "true"
		}
		if c.IsSet("s3-region") {
			flags["s3-region"] = c.String("s3-region")
		}
	}
	// Only the side itself names a backend: STOREFS_DATA_DIR and the
	// like would name a second one.
	env := func(name string) string {
		if strings.HasPrefix(name, "STOREFS_") && name != "STOREFS_S3_CREDENTIALS_FILE" {
			return ""
		}
		return os.Getenv(name)
	}
	st, err := mountopts.Resolve(mountopts.Input{Source: side, Flags: flags, Env: env, Scope: mountopts.Backend, Explicit: true})
	if err != nil {
		if errors.Is(err, mountopts.ErrUsage) {
			return node.Config{}, usageError{fmt.Errorf("%s: %w", side, err)}
		}
		return node.Config{}, fmt.Errorf("%s: %w", side, err)
	}
	if st.Store.Backend() == "memory" {
		return node.Config{}, usagef("%s: not a store: want a data dir, a Piri config (*.toml) or s3://PREFIX@HOST:PORT", side)
	}
	return st.Store, nil
}

// openDestination opens DST for writing: buckets, the flatfs store and
// LevelDBs are created as Piri would. A dry run writes nothing, so it
// opens DST read-only, and a DST that does not exist yet reads as
// empty.
func openDestination(ctx context.Context, dst node.Config, opts copy.Options) (*node.Stores, error) {
	dst.Writable = !opts.DryRun
	dst.BlobsOnly = opts.Only == copy.Blobs
	to, err := node.Open(ctx, dst)
	if err == nil {
		return to, nil
	}
	if opts.DryRun && errors.Is(err, os.ErrNotExist) {
		return node.Open(ctx, node.Config{})
	}
	if errors.Is(err, dsadapter.ErrLocked) {
		return nil, fmt.Errorf("open the destination %s: %w (a node or another copy is using it)", dst, err)
	}
	return nil, fmt.Errorf("open the destination %s: %w", dst, err)
}

// showProgress shows the copy's progress until stop is called: a status
// line on a terminal, a log line every 10 seconds otherwise.
func showProgress(w io.Writer, p *copy.Progress, log interface{ Info(string, ...any) }) (stop func()) {
	f, tty := w.(*os.File)
	tty = tty && term.IsTerminal(int(f.Fd()))
	every := 10 * time.Second
	if tty {
		every = 250 * time.Millisecond
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
			}
			phase, _ := p.Phase.Load().(string)
			bytes, total, objects := p.Bytes.Load(), p.TotalBytes.Load(), p.Objects.Load()
			rate := float64(bytes) / time.Since(start).Seconds()
			eta := "?"
			if total > 0 && rate > 0 && phase == "blobs" {
				eta = time.Duration(float64(total-bytes) / rate * float64(time.Second)).Round(time.Second).String()
			}
			line := fmt.Sprintf("%s: %d objects, %s", phase, objects, humanize.IBytes(uint64(bytes)))
			if total > 0 {
				line += " of " + humanize.IBytes(uint64(total))
			}
			line += fmt.Sprintf(", %s/s, ETA %s", humanize.IBytes(uint64(rate)), eta)
			if tty {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else {
				log.Info("progress", "phase", phase, "objects", objects, "bytes", bytes, "of", total, "rate", humanize.IBytes(uint64(rate))+"/s", "eta", eta)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func printCopySummary(w io.Writer, s copy.Summary, asJSON bool) error {
	if asJSON {
		line, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", line)
		return err
	}
	verb := "copied"
	if s.DryRun {
		verb = "to copy"
	}
	_, err := fmt.Fprintf(w, "%s %d, skipped %d (already there), failed %d, conflicts %d, warnings %d; %s (%d bytes) in %.1f s, %.1f MiB/s\n",
		verb, s.Copied, s.Skipped, s.Failed, s.Conflicts, s.Warnings, humanize.IBytes(uint64(s.Bytes)), s.Bytes, s.Seconds, s.MiBps)
	return err
}
