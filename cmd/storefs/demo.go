package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	mh "github.com/multiformats/go-multihash"
	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/internal/helpers/sample"
	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/catalog"
	"github.com/storacha/storefs/store/node"
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
	upload, err := storeUpload(c.Context, dataDir)
	if err != nil {
		return fmt.Errorf("store the sample upload: %w", err)
	}
	fmt.Fprintf(out, "sample Piri data dir: %s (flatfs blobs in pdp/datastore, among them a real Storacha upload; LevelDB records; a keystore in wallet/ that storefs never shows)\n", dataDir)

	st, err := mountopts.Resolve(mountopts.Input{Scope: mountopts.Mount,
		Flags: map[string]string{"data-dir": dataDir, "verify": "true", "debug": fmt.Sprint(c.Bool("debug")), "catalog-dir": filepath.Join(work, "catalog")}})
	if err != nil {
		return err
	}
	// The catalogue first, so the tour finds /cars and /content whole.
	cat, err := catalog.Open(st.CatalogDir, st.Store.Key())
	if err != nil {
		return err
	}
	_, err = cat.Refresh(c.Context, upload.blobs, catalog.Options{Log: newLogger(io.Discard, "text", false)})
	cat.Close()
	upload.close()
	if err != nil {
		return fmt.Errorf("catalogue the sample: %w", err)
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
	tour(out, mnt, set, upload)
	if c.Bool("exit") {
		cancel()
		return <-done
	}
	fmt.Fprintf(out, "\nmounted at %s — explore it, then press Ctrl-C to unmount.\n", mnt)
	return <-done
}

// demoUpload is the real upload the demo stores beside the sample.
type demoUpload struct {
	root, index string
	blobs       blobstore.Store
	close       func()
}

// storeUpload puts the embedded JS-client upload's blobs in the data dir.
func storeUpload(ctx context.Context, dataDir string) (*demoUpload, error) {
	files := sample.UploadFiles()
	raw, err := fs.ReadFile(files, "manifest.json")
	if err != nil {
		return nil, err
	}
	var m struct{ Root, Index string }
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	st, err := node.Open(ctx, node.Config{DataDir: dataDir, Writable: true, BlobsOnly: true})
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(files, "ciq*")
	if err != nil {
		st.Close()
		return nil, err
	}
	for _, name := range names {
		data, err := fs.ReadFile(files, name)
		if err == nil {
			var d mh.Multihash
			if d, err = blobstore.ParseName(name); err == nil {
				err = st.Blobs.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
			}
		}
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return &demoUpload{root: m.Root, index: m.Index, blobs: st.Blobs, close: func() { st.Close() }}, nil
}

// tour runs a few commands against the mount and shows what they print.
func tour(out io.Writer, mnt string, set *sample.Set, up *demoUpload) {
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
		{"ls", filepath.Join(mnt, "cars")},
		{"sh", "-c", "head -n 12 " + filepath.Join(mnt, "cars", up.index, "index.json")},
		{"ls", "-lR", filepath.Join(mnt, "content", up.root)},
		{"sh", "-c", "cat " + filepath.Join(mnt, "content", up.root, "docs", "readme.txt") + " | head -c 200; echo"},
		{"sha256sum", filepath.Join(mnt, "content", up.root, "big.bin")},
		{"getfattr", "-d", filepath.Join(mnt, "content", up.root, "big.bin")},
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
