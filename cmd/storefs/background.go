package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/mountopts"
)

// readyEnv names the descriptor through which a background child reports
// to its parent: "ok" once mounted, else the error.
const readyEnv = "STOREFS_READY_FD"

// background runs the mount in a detached child and returns once the mount
// answers (or failed): mount(8) waits for its helper to exit.
func background(c *cli.Context, job mountJob) error {
	if os.Getenv(readyEnv) != "" {
		return runChild(c, job)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), readyEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start background daemon: %w", err)
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	r.Close()
	if string(msg) == "ok" {
		cmd.Process.Release()
		return nil
	}
	cmd.Wait()
	if len(msg) == 0 {
		return fmt.Errorf("background daemon exited before mounting")
	}
	return errors.New(strings.TrimSpace(string(msg)))
}

// runChild is the detached daemon: it logs to syslog (its stderr is gone
// with the parent) and reports readiness through fd 3.
func runChild(c *cli.Context, job mountJob) error {
	ready := os.NewFile(3, "ready")
	if sl, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "storefs"); err == nil {
		level := slog.LevelInfo
		if job.opts.Debug {
			level = slog.LevelDebug
		}
		job.log = slog.New(slog.NewTextHandler(sl, &slog.HandlerOptions{Level: level}))
	} else {
		job.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	devnull, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	for _, fd := range []int{0, 1, 2} {
		syscall.Dup2(int(devnull.Fd()), fd)
	}
	reported := false
	err := runMount(c.Context, job, func(err error) {
		if reported {
			return
		}
		reported = true
		if err == nil {
			ready.Write([]byte("ok"))
		} else {
			ready.Write([]byte(err.Error()))
		}
		ready.Close()
	})
	if err != nil && !reported {
		ready.Write([]byte(err.Error()))
		ready.Close()
	}
	return err
}

// helperArgs rewrites the mount-helper form `storefs SOURCE MOUNTPOINT -o
// OPTS` (how mount.fuse3 runs us for `mount -t fuse.storefs`) into
// `storefs mount --background …`. It returns nil when args are not that
// form.
func helperArgs(args []string) ([]string, error) {
	if len(args) < 3 || strings.HasPrefix(args[1], "-") || isCommand(args[1]) {
		return nil, nil
	}
	h, err := mountopts.ParseHelper(args[1:])
	if err != nil {
		return nil, usageError{err}
	}
	var o mountopts.Options
	for _, list := range h.Options {
		if err := mountopts.Parse(list, &o); err != nil {
			return nil, usageError{err}
		}
	}
	cfg, err := mountopts.Source(h.Source, o, os.Getenv)
	if err != nil {
		return nil, usageError{err}
	}
	out := []string{args[0], "mount", "--background"}
	switch cfg.Backend() {
	case "s3":
		if strings.HasSuffix(h.Source, ".toml") {
			out = append(out, "--config", h.Source)
		} else {
			out = append(out, "--s3-endpoint", cfg.S3.Endpoint, "--s3-bucket-prefix", cfg.S3.BucketPrefix)
			if cfg.S3.Insecure {
				out = append(out, "--s3-insecure")
			}
		}
	case "datadir":
		if strings.HasSuffix(h.Source, ".toml") {
			out = append(out, "--config", h.Source)
		} else {
			out = append(out, "--data-dir", h.Source)
		}
	}
	for _, list := range h.Options {
		out = append(out, "-o", list)
	}
	return append(out, h.Mountpoint), nil
}

func isCommand(name string) bool {
	if name == "help" || name == "h" {
		return true
	}
	for _, c := range commands() {
		if c.HasName(name) {
			return true
		}
	}
	return false
}
