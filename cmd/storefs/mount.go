package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/storacha/storefs/fusefs"
	"github.com/storacha/storefs/internal/helpers/metrics"
	"github.com/storacha/storefs/internal/helpers/mountinfo"
	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/aggregator"
	"github.com/storacha/storefs/store/blobcache"
	"github.com/storacha/storefs/store/catalog"
	"github.com/storacha/storefs/store/jobqueue"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/pdpstate"
)

func mountFlags() []cli.Flag {
	return append(settingFlags(mountopts.Mount),
		&cli.StringSliceFlag{Name: "o", Usage: "settings as an -o list `OPTS` (comma-separated, repeatable): every flag above in snake_case, e.g. -o allow_other,prefetch_budget=64; generic fstab options (ro, noauto, _netdev …) are accepted"},
		&cli.StringFlag{Name: "source", Hidden: true, Usage: "the mount-helper SOURCE"},
		&cli.BoolFlag{Name: "background", Hidden: true, Usage: "detach once mounted (the mount-helper form does)"},
	)
}

func mountCommand() *cli.Command {
	return &cli.Command{
		Name:      "mount",
		Usage:     "mount a node's store read-only at MOUNTPOINT (foreground; Ctrl-C or SIGTERM unmounts)",
		ArgsUsage: "MOUNTPOINT",
		UsageText: "storefs mount [backend] [-o OPTS] [--verify] [--debug] MOUNTPOINT\n\n" +
			"Examples:\n   storefs mount --data-dir /var/lib/piri /mnt/piri\n" +
			"   storefs mount --config /etc/piri/config.toml -o allow_other /mnt/piri\n" +
			"   mount -t fuse.storefs /var/lib/piri /mnt/piri -o ro   (the mount-helper form)",
		Flags:  mountFlags(),
		Action: mountAction,
	}
}

func unmountCommand() *cli.Command {
	return &cli.Command{
		Name:      "unmount",
		Aliases:   []string{"umount"},
		Usage:     "unmount a storefs mount; also clears a stale one left by a killed daemon",
		ArgsUsage: "MOUNTPOINT",
		UsageText: "storefs unmount [--lazy] MOUNTPOINT\n\nExample:\n   storefs unmount /mnt/piri",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "lazy", Aliases: []string{"l"}, Usage: "detach now even if files are open"}},
		Action: func(c *cli.Context) error {
			if err := args(c, 1, 1); err != nil {
				return err
			}
			return unmountPath(c.Args().First(), c.Bool("lazy"))
		},
	}
}

// mountJob is a parsed mount request.
type mountJob struct {
	settings   mountopts.Settings
	mountpoint string
	fsname     string
	log        *slog.Logger
}

func mountAction(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	st, err := settings(c, mountopts.Mount, false)
	if err != nil {
		return err
	}
	log := newLogger(c.App.ErrWriter, st.LogFormat, st.Mount.Debug)
	if st.Found != "" {
		log.Info("no backend named: using the Piri config found", "config", st.Found)
	}
	if st.Warning != "" {
		log.Warn(st.Warning)
	}
	job := mountJob{settings: st, mountpoint: c.Args().First(), fsname: fsName(st.Store), log: log}
	if c.Bool("background") {
		return background(c, job)
	}
	return runMount(c.Context, job, func(error) {})
}

// fsName is the mount's source as /proc/mounts shows it: no secrets.
func fsName(c node.Config) string {
	switch c.Backend() {
	case "s3":
		return "s3://" + c.S3.BucketPrefix + "@" + c.S3.Endpoint
	case "datadir":
		return c.DataDir
	}
	return "memory"
}

// newLogger logs as text or json (mountopts checked which).
func newLogger(w io.Writer, format string, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// runMount mounts, reports through ready, serves until ctx ends (SIGINT,
// SIGTERM) or the filesystem is unmounted from outside, then unmounts.
func runMount(ctx context.Context, job mountJob, ready func(error)) (err error) {
	defer func() {
		if err != nil {
			ready(err)
		}
	}()
	if err := prepareMountpoint(job.mountpoint, job.log); err != nil {
		return err
	}
	st := job.settings
	slog.SetDefault(job.log) // stores log what they notice (shadowed records) here too
	var m *metrics.Metrics
	if st.MetricsAddr != "" {
		m = metrics.New()
		addr, err := m.Serve(ctx, st.MetricsAddr)
		if err != nil {
			return err
		}
		job.log.Info("serving metrics", "url", "http://"+addr.String()+"/metrics")
		st.Store.Instrument = m.Instrument
	}
	stores, err := node.Open(ctx, st.Store)
	if err != nil {
		return fmt.Errorf("open %s: %w", st.Store, err)
	}
	defer stores.Close()
	for _, a := range stores.Absent {
		job.log.Info("record store absent; shown empty", "store", a)
	}
	var cache *blobcache.Cache
	if st.CacheDir != "" {
		if stores.Blobs.Files() != nil {
			job.log.Info("--cache-dir unused: the blobs are local files already", "cache_dir", st.CacheDir)
		} else {
			// A nil *Metrics is a Stats that counts nothing.
			if cache, err = blobcache.Open(st.CacheDir, st.CacheSize, job.log, m); err != nil {
				return err
			}
			defer cache.Close()
			job.log.Info("blob cache", "dir", st.CacheDir, "size", st.CacheSize)
		}
	}
	cfg := st.Mount
	cfg.FsName, cfg.Log, cfg.Metrics, cfg.Cache = job.fsname, job.log, m, cache
	if cat, stop := openMountCatalog(ctx, st, stores, m, job.log); cat != nil {
		defer stop()
		cfg.Catalog = cat
	}
	if st.Store.DataDir != "" {
		// PDP state is local, also for a node whose blobs are on S3.
		switch db, err := openPDPState(ctx, st); {
		case err == nil:
			defer db.Close()
			cfg.PDP = db
			dataDir := st.Store.DataDir
			cfg.Aggregator = func() (*aggregator.DB, error) { return aggregator.Open(dataDir) }
			switch q, err := openJobQueue(ctx, st); {
			case err == nil:
				defer q.Close()
				cfg.JobQueue = q
			case errors.Is(err, jobqueue.ErrNone):
			default:
				job.log.Warn("aggregator job queues unreadable: /pdp/aggregates shows no job", "err", err)
			}
			job.log.Info("pdp state", "file", db.File())
		case errors.Is(err, pdpstate.ErrNoState):
			job.log.Info("no PDP state: /pdp is not shown", "err", err)
		default:
			job.log.Warn("PDP state unreadable: /pdp is not shown", "err", err)
		}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Read-ahead buffers churn: let the GC work harder rather than
		// let the heap grow far past the budget.
		debug.SetMemoryLimit(cfg.Prefetch.Budget + 48<<20)
	}
	root, err := fusefs.New(fusefs.Stores{Blobs: stores.Blobs, Stores: stores.Stores, Journal: stores.Journal}, cfg)
	if err != nil {
		return usageError{err}
	}
	defer root.Close()
	server, err := fusefs.Mount(job.mountpoint, root)
	if err != nil {
		return err
	}
	job.log.Info("mounted", "source", job.fsname, "mountpoint", job.mountpoint, "backend", st.Store.Backend(), "verify", st.Mount.Verify)
	ready(nil)

	served := make(chan struct{})
	go func() { server.Wait(); close(served) }()
	select {
	case <-served:
		job.log.Info("unmounted from outside", "mountpoint", job.mountpoint)
		return nil
	case <-ctx.Done():
	}
	job.log.Info("unmounting", "mountpoint", job.mountpoint)
	if err := server.Unmount(); err != nil {
		// Files are still open: detach now; the kernel lets their
		// readers finish with errors once we exit.
		job.log.Warn("unmount busy; detaching", "mountpoint", job.mountpoint, "err", err)
		if err := syscall.Unmount(job.mountpoint, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", job.mountpoint, err)
		}
	}
	select {
	case <-served:
	case <-time.After(2 * time.Second):
	}
	return nil
}

// noCache is how a timeout of zero reaches fusefs, where zero means the
// default.

// prepareMountpoint checks the mountpoint, and clears a stale mount a
// killed daemon left (statfs, unlike stat, always asks the daemon, so it
// reports ENOTCONN even when the kernel still caches attributes).
func prepareMountpoint(dir string, log *slog.Logger) error {
	var st unix.Statfs_t
	err := unix.Statfs(dir, &st)
	if errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED) {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("mountpoint %s: a stale mount is in the way and cannot be cleared: %w", dir, err)
		}
		log.Warn("cleared a stale mount left by a previous run", "mountpoint", dir)
	} else if err != nil {
		return fmt.Errorf("mountpoint %s: %w", dir, err)
	}
	if fstype, mounted := mountedType(dir); mounted && strings.HasPrefix(fstype, "fuse") {
		return fmt.Errorf("mountpoint %s: already mounted (%s); run `storefs unmount %s` first", dir, fstype, dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("mountpoint: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("mountpoint %s: not a directory", dir)
	}
	return nil
}

// mountedType reports the filesystem type mounted exactly at dir.
func mountedType(dir string) (string, bool) {
	abs, err := mountinfo.Resolve(dir)
	if err != nil {
		return "", false
	}
	m, ok, err := mountinfo.At(abs)
	if err != nil {
		return "", false
	}
	return m.FSType, ok
}

// unmountPath unmounts dir, live or stale.
func unmountPath(dir string, lazy bool) error {
	if _, mounted := mountedType(dir); !mounted {
		// Said here for every user: without root, umount2 answers EPERM
		// and fusermount3 a message about /etc/mtab.
		return fmt.Errorf("unmount %s: not mounted", dir)
	}
	flags := 0
	if lazy {
		flags = syscall.MNT_DETACH
	}
	err := syscall.Unmount(dir, flags)
	// The kernel holds a mount busy for a moment after files in it are
	// closed, and while a daemon that just mounted probes its mount
	// (go-fuse opens a file there): retry for about a second, as
	// go-fuse's own Unmount does, before calling files open.
	for delay := 5 * time.Millisecond; errors.Is(err, syscall.EBUSY) && delay < time.Second; delay *= 2 {
		time.Sleep(delay)
		err = syscall.Unmount(dir, flags)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("unmount %s: files are open there (close them, or use --lazy)", dir)
	case errors.Is(err, syscall.EINVAL):
		return fmt.Errorf("unmount %s: not mounted", dir)
	case errors.Is(err, syscall.EPERM) && os.Geteuid() != 0:
		out, ferr := exec.Command("fusermount3", "-u", dir).CombinedOutput()
		if ferr != nil {
			return fmt.Errorf("unmount %s: %v: %s", dir, ferr, strings.TrimSpace(string(out)))
		}
		return nil
	}
	return fmt.Errorf("unmount %s: %w", dir, err)
}

// openMountCatalog opens the store's catalogue and refreshes it in the
// background while the mount serves what it has (/cars), with progress
// in /metrics. Another process refreshing it is left to: the mount reads
// what it writes. stop ends the refresh and closes the catalogue.
func openMountCatalog(ctx context.Context, st mountopts.Settings, stores *node.Stores, m *metrics.Metrics, log *slog.Logger) (*catalog.Catalog, func()) {
	dir, cleanup := st.CatalogDir, func() {}
	if st.Store.Backend() == "memory" {
		// A memory store lives as long as the mount: so does its catalogue.
		tmp, err := os.MkdirTemp("", "storefs-catalog-")
		if err != nil {
			log.Warn("no catalogue: /cars is not shown", "err", err)
			return nil, nil
		}
		dir, cleanup = tmp, func() { os.RemoveAll(tmp) }
	}
	cat, err := catalog.Open(dir, st.Store.Key())
	if err != nil {
		cleanup()
		log.Warn("no catalogue: /cars is not shown", "err", err)
		return nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		sum, err := cat.Refresh(ctx, stores.Blobs, catalog.Options{Log: log,
			Progress: func(s catalog.Stats) { m.CatalogProgress(s.Listed, s.Read, false) }})
		switch {
		case errors.Is(err, catalog.ErrBusy):
			log.Info("the catalogue is being refreshed by another process; /cars shows what it has", "err", err)
		case err != nil && ctx.Err() == nil:
			log.Warn("catalogue refresh failed; /cars shows what it has", "err", err)
		case err == nil:
			m.CatalogProgress(sum.Listed, sum.Read, true)
			log.Info("catalogue up to date", "file", cat.File(), "listed", sum.Listed, "read", sum.Read,
				"indexes", sum.Indexes, "shards", sum.Shards, "slices", sum.Slices, "dropped", sum.Dropped, "took", time.Since(start).Round(time.Millisecond))
		}
	}()
	return cat, func() {
		cancel()
		<-done
		cat.Close()
		cleanup()
	}
}
