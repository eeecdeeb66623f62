package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/catalog"
)

func catalogCommand() *cli.Command {
	return &cli.Command{
		Name:  "catalog",
		Usage: "build or refresh the catalogue of what each blob is (CAR shards, indexes, where each block lies)",
		UsageText: `storefs catalog [backend] [--rebuild] [--jobs N] [--json]

Reads the head of each blob the catalogue has not seen (one ranged read),
and each index blob whole; blobs no longer stored drop out. The
catalogue lives in --catalog-dir, one per store, and is what a mount's
/cars and storefs find read. Only blobs are read: it runs beside a live
node.

Example:
   storefs catalog --data-dir /var/lib/piri
   storefs catalog --config /etc/piri/config.toml --rebuild`,
		Flags: append(settingFlags(mountopts.Backend),
			&cli.BoolFlag{Name: "rebuild", Usage: "forget the catalogue and read every blob again"},
			&cli.IntFlag{Name: "jobs", Value: 16, Usage: "`N` blobs read at once"},
			&cli.BoolFlag{Name: "json", Usage: "the summary as one JSON object"},
		),
		Action: runCatalog,
	}
}

// catalogOf resolves the backend settings and opens the store's
// catalogue.
func catalogOf(c *cli.Context) (*catalog.Catalog, mountopts.Settings, error) {
	return openCatalog(c, catalog.Open)
}

func openCatalog(c *cli.Context, open func(dir, key string) (*catalog.Catalog, error)) (*catalog.Catalog, mountopts.Settings, error) {
	st, err := settings(c, mountopts.Backend, false)
	if err != nil {
		return nil, st, err
	}
	if st.Found != "" {
		fmt.Fprintf(c.App.ErrWriter, "storefs: using the Piri config %s\n", st.Found)
	}
	if st.Warning != "" {
		return nil, st, usagef("name the store (--data-dir, --s3-endpoint or --config): no backend named and no Piri config found")
	}
	cat, err := open(st.CatalogDir, st.Store.Key())
	return cat, st, err
}

func runCatalog(c *cli.Context) error {
	if err := args(c, 0, 0); err != nil {
		return err
	}
	if c.Int("jobs") < 1 {
		return usagef("--jobs %d: want at least 1", c.Int("jobs"))
	}
	cat, st, err := catalogOf(c)
	if err != nil {
		return err
	}
	defer cat.Close()
	stores, err := openBlobs(c, st)
	if err != nil {
		return err
	}
	defer stores.Close()
	start := time.Now()
	bar := newCounter(c, "catalog")
	sum, err := cat.Refresh(c.Context, stores.Blobs, catalog.Options{
		Jobs: c.Int("jobs"), Rebuild: c.Bool("rebuild"), Log: newLogger(c.App.ErrWriter, "text", false),
		Progress: func(s catalog.Stats) {
			bar.describe(fmt.Sprintf("catalog: %d listed, %d read (%s), %d indexes, %d shards", s.Listed, s.Read, humanize.IBytes(uint64(s.Bytes)), s.Indexes, s.Shards))
			bar.set(s.Listed)
		},
	})
	bar.done()
	if err != nil {
		return err
	}
	took := time.Since(start)
	var disk int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(cat.File() + suffix); err == nil {
			disk += fi.Size()
		}
	}
	if c.Bool("json") {
		return json.NewEncoder(c.App.Writer).Encode(struct {
			catalog.Stats
			Store     string  `json:"store"`
			File      string  `json:"file"`
			DiskBytes int64   `json:"disk_bytes"`
			Seconds   float64 `json:"seconds"`
		}{sum, st.Store.String(), cat.File(), disk, took.Seconds()})
	}
	w := c.App.Writer
	fmt.Fprintf(w, "catalogued %s in %s: %s\n", st.Store, took.Round(time.Millisecond), cat.File())
	fmt.Fprintf(w, "  %d blobs listed, %d read (%s), %d dropped\n", sum.Listed, sum.Read, humanize.IBytes(uint64(sum.Bytes)), sum.Dropped)
	fmt.Fprintf(w, "  new: %d indexes (%d slices), %d CAR shards (%d roots), %d other\n", sum.Indexes, sum.Slices, sum.Shards, sum.Roots, sum.Other)
	fmt.Fprintf(w, "  on disk: %s\n", humanize.IBytes(uint64(disk)))
	if sum.Failed > 0 {
		return silentError{fmt.Errorf("%d blobs could not be read: the next run tries them again", sum.Failed)}
	}
	return nil
}

func findCommand() *cli.Command {
	return &cli.Command{
		Name:  "find",
		Usage: "where blocks lie on this node: the blob, offset and length of each CID or multihash",
		UsageText: `storefs find [backend] [--json] CID|MULTIHASH...

For each, every place its block lies: the blob, the offset and length of
its bytes there, and the index that says so (or: the whole blob; a scan
of the blob). Reads the catalogue, which storefs catalog (or a mount)
builds; exit 1 naming any it cannot locate.

Example:
   storefs find --data-dir /var/lib/piri bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi
   storefs find --config /etc/piri/config.toml --json ciqbedcf3jlcjp6ekqnbt2k2krpcc4nbcmltufkpl6wuw2hdpgwtvqi`,
		Flags: append(settingFlags(mountopts.Backend),
			&cli.BoolFlag{Name: "json", Usage: "one JSON object a location"},
		),
		Action: runFind,
	}
}

type foundJSON struct {
	Query  string `json:"query"`
	Blob   string `json:"blob"`
	Here   bool   `json:"here"`
	Offset uint64 `json:"offset"`
	Length uint64 `json:"length"`
	Index  string `json:"index,omitempty"`
}

func runFind(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("name at least one CID or multihash")
	}
	var digests []mh.Multihash
	for _, a := range c.Args().Slice() {
		d, err := parseBlockName(a)
		if err != nil {
			return usagef("%q: %v", a, err)
		}
		digests = append(digests, d)
	}
	// The catalogue alone, read only: find reads no blob, so the store is
	// not opened, and it writes nothing.
	cat, _, err := openCatalog(c, catalog.OpenReader)
	if err != nil {
		return err
	}
	defer cat.Close()
	enc := json.NewEncoder(c.App.Writer)
	var missing []string
	for i, d := range digests {
		locs, err := cat.Find(c.Context, d)
		if err != nil {
			return err
		}
		q := c.Args().Get(i)
		if len(locs) == 0 {
			missing = append(missing, q)
			continue
		}
		for _, l := range locs {
			f := foundJSON{Query: q, Blob: blobstore.Name(l.Shard), Here: l.Here, Offset: l.Offset, Length: l.Length}
			if l.Index != nil {
				f.Index = blobstore.Name(l.Index)
			}
			if c.Bool("json") {
				if err := enc.Encode(f); err != nil {
					return err
				}
				continue
			}
			where := "here"
			if !l.Here {
				where = "not on this node"
			}
			by := "by a scan of the blob"
			switch {
			case f.Index != "":
				by = "by index " + f.Index
			case isWhole(l, digests[i]):
				by = "the whole blob"
			}
			fmt.Fprintf(c.App.Writer, "%s\t%s\t%d\t%d\t%s (%s)\n", q, f.Blob, l.Offset, l.Length, by, where)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not located on this node (storefs catalog refreshes the catalogue): %s", strings.Join(missing, ", "))
	}
	return nil
}

func isWhole(l catalog.Location, d mh.Multihash) bool { return string(l.Shard) == string(d) }

// parseBlockName reads a CID, or a multihash as a blob is named (b32,
// base58btc, or a CID of it).
func parseBlockName(s string) (mh.Multihash, error) {
	if c, err := cid.Decode(s); err == nil {
		return c.Hash(), nil
	}
	d, err := blobstore.ParseName(s)
	if err != nil {
		return nil, errors.New("neither a CID nor a multihash")
	}
	return d, nil
}
