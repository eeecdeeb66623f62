package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	mh "github.com/multiformats/go-multihash"
	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/blobstore"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:      "demo",
		Usage:     "build a sample Piri data dir (flatfs + LevelDB), mount it and tour it",
		ArgsUsage: "[MOUNTPOINT]",
		UsageText: "storefs demo [--exit] [MOUNTPOINT]\n\nWithout --exit the mount stays up until Ctrl-C.\n\nExample:\n   storefs demo /mnt/demo",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "exit", Usage: "unmount and clean up after the tour"},
			&cli.BoolFlag{Name: "debug", Usage: "log every FUSE request"},
		},
		Action: demo,
	}
}

func demo(c *cli.Context) error {
	if err := args(c, 0, 1); err != nil {
		return err
	}
	out := c.App.Writer
	work, err := os.MkdirTemp("", "storefs-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	dataDir := filepath.Join(work, "piri")
	mnt := c.Args().First()
	if mnt == "" {
		mnt = filepath.Join(work, "mnt")
	}
	for _, d := range []string{dataDir, mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	set, err := sample.Populate(c.Context, dataDir)
	if err != nil {
		return fmt.Errorf("build the sample data dir: %w", err)
	}
	fmt.Fprintf(out, "sample Piri data dir: %s (flatfs blobs in pdp/datastore, LevelDB records, a keystore in wallet/ that storefs never shows)\n", dataDir)

	st, err := mountopts.Resolve(mountopts.Input{Scope: mountopts.Mount,
		Flags: map[string]string{"data-dir": dataDir, "verify": "true", "debug": fmt.Sprint(c.Bool("debug"))}})
	if err != nil {
		return err
	}
	job := mountJob{settings: st, mountpoint: mnt, fsname: dataDir, log: newLogger(c.App.ErrWriter, "text", st.Mount.Debug)}
	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	mounted := make(chan error, 1)
	done := make(chan error, 1)
	go func() { done <- runMount(ctx, job, func(err error) { mounted <- err }) }()
	select {
	case err := <-mounted:
		if err != nil {
			return err
		}
	case err := <-done:
		return err
	}
	tour(out, mnt, set)
	if c.Bool("exit") {
		cancel()
		return <-done
	}
	fmt.Fprintf(out, "\nmounted at %s — explore it, then press Ctrl-C to unmount.\n", mnt)
	return <-done
}

// tour runs a few commands against the mount and shows what they print.
func tour(out io.Writer, mnt string, set *sample.Set) {
	var big string
	size := 0
	for d, data := range set.Blobs {
		if len(data) > size {
			big, size = blobstore.Name(mh.Multihash(d)), len(data)
		}
	}
	receipt := set.Receipts[0]
	steps := [][]string{
		{"ls", "-l", mnt},
		{"ls", "-l", filepath.Join(mnt, "blobs")},
		{"cat", filepath.Join(mnt, "blobs", "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i")},
		{"sh", "-c", fmt.Sprintf("dd if=%s bs=4k skip=10 count=1 status=none | sha256sum", filepath.Join(mnt, "blobs", big))},
		{"getfattr", "-d", filepath.Join(mnt, "blobs", big)},
		{"ls", filepath.Join(mnt, "allocations")},
		{"ls", "-l", filepath.Join(mnt, "receipts", "by-ran")},
		{"sh", "-c", "head -n 24 " + filepath.Join(mnt, "receipts", receipt.CID.String()+".json")},
		{"sh", "-c", "du -slb " + filepath.Join(mnt, "spaces") + "/*"},
		{"ls", "-l", filepath.Join(mnt, "egress")},
		{"sh", "-c", "head -n 20 " + filepath.Join(mnt, "egress", "wip.json")},
	}
	for _, step := range steps {
		shown := strings.Join(step, " ")
		if step[0] == "sh" {
			shown = step[2]
		}
		fmt.Fprintf(out, "\n$ %s\n", shown)
		cmd := exec.Command(step[0], step[1:]...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(out, "(%v)\n", err)
		}
	}
}
