package main

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/content/blocks"
	"github.com/storacha/storefs/content/unixfs"
	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/readstack"
	"github.com/storacha/storefs/store/catalog"
)

// catAhead is how far cat fetches a file's blocks ahead of what it
// writes.
const catAhead = 16 << 20

func catCommand() *cli.Command {
	return &cli.Command{
		Name:      "cat",
		Usage:     "write files inside uploads to stdout, read in place from the node's shards, every block checked",
		ArgsUsage: "CID[/PATH]...",
		UsageText: `storefs cat [backend] CID[/PATH]...

Each CID (a file's, or an upload's root with the path of a file under
it) is read from the shards the catalogue locates its blocks in (storefs
catalog builds it), every block hashed against its CID before its bytes
are written. A file that cannot be read whole (a block in a shard this
node lacks, bytes that do not match) is named on stderr with its cause,
the next one is written, and the exit code is 1.

Example:
   storefs cat --data-dir /var/lib/piri bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/photos/a.jpg > a.jpg`,
		Flags:  settingFlags(mountopts.Backend),
		Action: runCat,
	}
}

type catArg struct {
	arg  string
	root cid.Cid
	path []string
}

func parseCatArg(a string) (catArg, error) {
	first, rest, _ := strings.Cut(strings.TrimPrefix(a, "/ipfs/"), "/")
	root, err := cid.Decode(first)
	if err != nil {
		return catArg{}, fmt.Errorf("%q: not a CID", first)
	}
	out := catArg{arg: a, root: root}
	for _, p := range strings.Split(rest, "/") {
		switch p {
		case "", ".":
		case "..":
			return catArg{}, fmt.Errorf("%q: no .. in a path under a CID", a)
		default:
			out.path = append(out.path, p)
		}
	}
	return out, nil
}

func runCat(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("name at least one CID[/PATH]")
	}
	var targets []catArg
	for _, a := range c.Args().Slice() {
		t, err := parseCatArg(a)
		if err != nil {
			return usagef("%v", err)
		}
		targets = append(targets, t)
	}
	cat, st, err := openCatalog(c, catalog.OpenReader)
	if err != nil {
		return err
	}
	defer cat.Close()
	stores, err := openBlobs(c, st)
	if err != nil {
		return err
	}
	defer stores.Close()
	// The errors name the block and the shard: no log line besides.
	quiet := slog.New(slog.DiscardHandler)
	src := blocks.New(cat, readstack.New(readstack.Config{Blobs: stores.Blobs, Log: quiet}), blocks.Options{Log: quiet})
	out := bufio.NewWriterSize(c.App.Writer, 1<<20)
	failed := 0
	for _, t := range targets {
		err := catOne(c, src, t, out)
		if ferr := out.Flush(); err == nil {
			err = ferr
		}
		if err != nil {
			failed++
			fmt.Fprintf(c.App.ErrWriter, "storefs: cat %s: %v\n", t.arg, err)
		}
	}
	if failed > 0 {
		return silentError{fmt.Errorf("%d of %d failed", failed, len(targets))}
	}
	return nil
}

func catOne(c *cli.Context, src *blocks.Source, t catArg, out *bufio.Writer) error {
	n, err := unixfs.Resolve(c.Context, src, t.root, t.path)
	if errors.Is(err, blocks.ErrNotLocated) {
		return fmt.Errorf("%w (storefs catalog refreshes the catalogue)", err)
	}
	if err != nil {
		return err
	}
	if n.Kind != unixfs.KindFile {
		return fmt.Errorf("a %s, not a file", n.Kind)
	}
	f, err := unixfs.NewFile(src, n)
	if err != nil {
		return err
	}
	_, err = f.WriteTo(c.Context, out, catAhead)
	return err
}
