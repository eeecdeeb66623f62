package main

import (
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/piece"
)

func pdpCommand() *cli.Command {
	return &cli.Command{
		Name:      "pdp",
		Usage:     "the node's PDP state: pieces behind its proofs",
		UsageText: "storefs pdp COMMAND [backend] [arguments]\n\nExample:\n   storefs pdp commp --data-dir /var/lib/piri ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i",
		Subcommands: []*cli.Command{
			{
				Name:      "commp",
				Usage:     "the piece CID (commP, piece CID v2) of files or blobs, as Piri computes it; prints \"<piece CID>\\t<padded size>\\t<ARG>\"",
				ArgsUsage: "FILE|BLOB...",
				UsageText: "storefs pdp commp [backend] FILE|BLOB...\n\nA FILE is read from the local filesystem; a BLOB (b32 name, CID or base58btc\nmultihash) from the node's store. Under 127 bytes there is no commP.\n\nExample:\n   storefs pdp commp --data-dir /var/lib/piri ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i",
				Flags:     settingFlags(mountopts.Backend),
				Action:    pdpCommP,
			},
		},
	}
}

func pdpCommP(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("name at least one FILE or BLOB")
	}
	var stores *node.Stores
	defer func() {
		if stores != nil {
			stores.Close()
		}
	}()
	failed := 0
	for _, a := range c.Args().Slice() {
		var r io.ReadCloser
		if fi, err := os.Stat(a); err == nil && fi.Mode().IsRegular() {
			if r, err = os.Open(a); err != nil {
				return err
			}
		} else {
			d, err := blobstore.ParseName(a)
			if err != nil {
				return usagef("%q: neither a file nor a blob name", a)
			}
			if stores == nil {
				st, err := settings(c, mountopts.Backend, false)
				if err != nil {
					return err
				}
				st.Store.BlobsOnly = true
				if stores, err = node.Open(c.Context, st.Store); err != nil {
					return fmt.Errorf("open %s: %w", st.Store, err)
				}
			}
			if r, err = stores.Blobs.Get(c.Context, d); err != nil {
				fmt.Fprintf(c.App.ErrWriter, "storefs: pdp commp %s: %v\n", a, err)
				failed++
				continue
			}
		}
		pc, padded, err := piece.Of(r)
		r.Close()
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "storefs: pdp commp %s: %v\n", a, err)
			failed++
			continue
		}
		fmt.Fprintf(c.App.Writer, "%s\t%d\t%s\n", pc, padded, a)
	}
	if failed > 0 {
		return silentError{fmt.Errorf("%d failed", failed)}
	}
	return nil
}
