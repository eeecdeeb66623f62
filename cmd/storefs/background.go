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
		if job.settings.Mount.Debug {
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
