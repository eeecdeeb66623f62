package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/objectstore"
)

func blobCommand() *cli.Command {
	return &cli.Command{
		Name:      "blob",
		Usage:     "put, get, list, inspect and verify blobs",
		UsageText: "storefs blob COMMAND [backend] [arguments]\n\nExample:\n   storefs blob ls -l --data-dir /var/lib/piri",
		Subcommands: []*cli.Command{
			{
				Name:      "put",
				Usage:     "store files as blobs; prints \"<b32>\\t<size>\\t<FILE>\" per file",
				ArgsUsage: "FILE...",
				UsageText: "storefs blob put [backend] [--hash FN] FILE...\n\nExample:\n   storefs blob put --data-dir ~/.storacha/piri ./chunk.car",
				Flags: append(settingFlags(mountopts.Backend),
					&cli.StringFlag{Name: "hash", Value: "sha2-256", Usage: "multihash `FUNCTION` to name blobs with"}),
				Action: blobPut,
			},
			{
				Name:      "get",
				Usage:     "write a blob's bytes (or an inclusive byte range) to stdout",
				ArgsUsage: "NAME",
				UsageText: "storefs blob get [backend] [--range START-END] NAME\n\nNAME is the b32 name, a CID or a base58btc multihash.\n\nExample:\n   storefs blob get --data-dir D --range 0-4 ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i",
				Flags: append(settingFlags(mountopts.Backend),
					&cli.StringFlag{Name: "range", Usage: "inclusive byte range `START-END` (END may be left out)"}),
				Action: blobGet,
			},
			{
				Name:      "ls",
				Usage:     "list blobs, one b32 name a line (-l: \"<b32>\\t<size>\"; --layout adds \"\\t<layout>\")",
				UsageText: "storefs blob ls [backend] [-l [--layout]]\n\nExample:\n   storefs blob ls -l --data-dir ~/.storacha/piri",
				Flags: append(settingFlags(mountopts.Backend),
					&cli.BoolFlag{Name: "long", Aliases: []string{"l"}, Usage: "also print sizes"},
					&cli.BoolFlag{Name: "layout", Usage: "with -l, a third column: the Piri layout of the blob's key (v0.2.4, v0.2.3, datastore)"}),
				Action: blobList,
			},
			{
				Name:      "stat",
				Usage:     "print a blob's names, size and backend key",
				ArgsUsage: "NAME",
				UsageText: "storefs blob stat [backend] NAME\n\nExample:\n   storefs blob stat --data-dir D zQmaozNR7DZHQK1ZcU9p7QdrshMvXqWK6gpu5rmrkPdT3L4",
				Flags:     settingFlags(mountopts.Backend),
				Action:    blobStat,
			},
			{
				Name:      "verify",
				Usage:     "re-hash every blob; exit 1 naming each mismatch",
				UsageText: "storefs blob verify [backend]\n\nExample:\n   storefs blob verify --data-dir ~/.storacha/piri",
				Flags:     settingFlags(mountopts.Backend),
				Action:    blobVerify,
			},
		},
	}
}

func blobPut(c *cli.Context) error {
	if err := args(c, 1, -1); err != nil {
		return err
	}
	code, ok := mh.Names[c.String("hash")]
	if !ok {
		return usagef("--hash %q: not a multihash function name (e.g. sha2-256, sha2-512, blake3)", c.String("hash"))
	}
	if _, err := mh.GetHasher(code); err != nil {
		return usagef("--hash %q: %v", c.String("hash"), err)
	}
	stores, err := openStores(c, true)
	if err != nil {
		return err
	}
	defer stores.Close()
	out := c.App.Writer
	for _, path := range c.Args().Slice() {
		digest, size, err := putFile(c, stores.Blobs, path, code)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\t%d\t%s\n", blobstore.Name(digest), size, path)
	}
	return nil
}

// putFile reads the file twice: once to name it, once to store it while
// the store checks the bytes again. Neither pass holds the file in memory.
func putFile(c *cli.Context, blobs blobstore.Store, path string, code uint64) (mh.Multihash, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: not a regular file", path)
	}
	h, err := mh.GetHasher(code)
	if err != nil {
		return nil, 0, err
	}
	bar := newProgress(c, fi.Size(), "hash "+path)
	if _, err := io.Copy(h, bar.reader(f)); err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	bar.done()
	digest, err := mh.Encode(h.Sum(nil), code)
	if err != nil {
		return nil, 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	bar = newProgress(c, fi.Size(), "store "+path)
	if err := blobs.Put(c.Context, digest, fi.Size(), bar.reader(f)); err != nil {
		if errors.Is(err, blobstore.ErrDigestMismatch) {
			return nil, 0, fmt.Errorf("%s changed while it was stored: %w", path, err)
		}
		return nil, 0, err
	}
	bar.done()
	return digest, fi.Size(), nil
}

func parseName(name string) (mh.Multihash, error) {
	d, err := blobstore.ParseName(name)
	if err != nil {
		return nil, usageError{err}
	}
	return d, nil
}

// parseRange reads "START-END" (inclusive) or "START-".
func parseRange(s string) (objectstore.Range, error) {
	startS, endS, ok := strings.Cut(s, "-")
	start, err := strconv.ParseInt(startS, 10, 64)
	if !ok || err != nil || start < 0 {
		return objectstore.Range{}, usagef("--range %q: want START-END or START- (inclusive, bytes)", s)
	}
	if endS == "" {
		return objectstore.From(start), nil
	}
	end, err := strconv.ParseInt(endS, 10, 64)
	if err != nil || end < start {
		return objectstore.Range{}, usagef("--range %q: want START-END with END >= START", s)
	}
	return objectstore.Bytes(start, end), nil
}

func blobGet(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	digest, err := parseName(c.Args().First())
	if err != nil {
		return err
	}
	var opts []objectstore.GetOption
	if c.IsSet("range") {
		r, err := parseRange(c.String("range"))
		if err != nil {
			return err
		}
		opts = append(opts, objectstore.WithRange(r))
	}
	stores, err := openStores(c, false)
	if err != nil {
		return err
	}
	defer stores.Close()
	obj, err := stores.Blobs.Get(c.Context, digest, opts...)
	if err != nil {
		return err
	}
	defer obj.Close()
	if _, err := io.CopyBuffer(c.App.Writer, obj, make([]byte, 1<<20)); err != nil {
		return fmt.Errorf("read blob %s: %w", blobstore.Name(digest), err)
	}
	return nil
}

func blobList(c *cli.Context) error {
	if err := args(c, 0, 0); err != nil {
		return err
	}
	stores, err := openStores(c, false)
	if err != nil {
		return err
	}
	defer stores.Close()
	w := bufio.NewWriterSize(c.App.Writer, 64<<10)
	defer w.Flush()
	long, layout := c.Bool("long"), c.Bool("layout")
	if layout && !long {
		return usagef("--layout adds a column to -l: give both")
	}
	for info, err := range stores.Blobs.List(c.Context) {
		if err != nil {
			return err
		}
		switch {
		case layout:
			fmt.Fprintf(w, "%s\t%d\t%s\n", blobstore.Name(info.Digest), info.Size, info.Layout)
		case long:
			fmt.Fprintf(w, "%s\t%d\n", blobstore.Name(info.Digest), info.Size)
		default:
			fmt.Fprintln(w, blobstore.Name(info.Digest))
		}
	}
	return w.Flush()
}

func blobStat(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	digest, err := parseName(c.Args().First())
	if err != nil {
		return err
	}
	stores, err := openStores(c, false)
	if err != nil {
		return err
	}
	defer stores.Close()
	info, err := stores.Blobs.Stat(c.Context, digest)
	if err != nil {
		return err
	}
	dec, _ := mh.Decode(digest)
	fmt.Fprintf(c.App.Writer, "name\t%s\nsize\t%d\nmultihash\tz%s\ncid\t%s\nhash\t%s\nkey\t%s\nlayout\t%s\n",
		blobstore.Name(digest), info.Size, blobstore.Base58(digest),
		cid.NewCidV1(cid.Raw, digest), dec.Name, info.Key, info.Layout)
	if !info.ModTime.IsZero() {
		fmt.Fprintf(c.App.Writer, "stored\t%s\n", info.ModTime.UTC().Format(time.RFC3339))
	}
	return nil
}

func blobVerify(c *cli.Context) error {
	if err := args(c, 0, 0); err != nil {
		return err
	}
	stores, err := openStores(c, false)
	if err != nil {
		return err
	}
	defer stores.Close()
	var checked, bad int
	stderr := c.App.ErrWriter
	for info, err := range stores.Blobs.List(c.Context) {
		if err != nil {
			return err
		}
		checked++
		if err := verifyBlob(c, stores.Blobs, info); err != nil {
			bad++
			fmt.Fprintf(stderr, "storefs: %v\n", err)
			if c.Context.Err() != nil {
				return c.Context.Err()
			}
		}
	}
	fmt.Fprintf(c.App.Writer, "verified %d blobs: %d ok, %d bad\n", checked, checked-bad, bad)
	if bad > 0 {
		return silentError{fmt.Errorf("%d bad blobs", bad)}
	}
	return nil
}

func verifyBlob(c *cli.Context, blobs blobstore.Store, info blobstore.Info) error {
	bar := newProgress(c, info.Size, "verify "+blobstore.Name(info.Digest)[:12])
	defer bar.done()
	return blobstore.Check(c.Context, blobs, info.Digest, bar.reader)
}
