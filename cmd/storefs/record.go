package main

import (
	"bufio"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/records"
)

func recordCommand() *cli.Command {
	kindHelp := "KIND is one of: " + strings.Join(records.Names, ", ")
	return &cli.Command{
		Name:      "record",
		Usage:     "list and show the typed records a node keeps",
		UsageText: "storefs record COMMAND [backend] KIND [KEY]\n\nExample:\n   storefs record ls --data-dir /var/lib/piri receipts",
		Subcommands: []*cli.Command{
			{
				Name:      "ls",
				Usage:     "list one kind of record, one key a line, named as in the mount",
				ArgsUsage: "KIND",
				UsageText: "storefs record ls [backend] KIND\n\n" + kindHelp + ".\nAllocations and acceptances are listed as <b32 blob>/<space DID>; the other kinds by CID.\n\nExample:\n   storefs record ls --data-dir ~/.storacha/piri receipts",
				Flags:     settingFlags(mountopts.Backend),
				Action:    recordList,
			},
			{
				Name:      "show",
				Usage:     "print a record as the JSON the mount shows",
				ArgsUsage: "KIND KEY",
				UsageText: "storefs record show [backend] KIND KEY\n\n" + kindHelp + ".\n\nExample:\n   storefs record show --data-dir ~/.storacha/piri receipts bafyrei…",
				Flags:     settingFlags(mountopts.Backend),
				Action:    recordShow,
			},
		},
	}
}

// openKind checks the arguments (KIND first) and opens that kind's store.
func openKind(c *cli.Context, nargs int) (*node.Stores, records.Kind, error) {
	if err := args(c, nargs, nargs); err != nil {
		return nil, records.Kind{}, err
	}
	name := c.Args().First()
	if !slices.Contains(records.Names, name) {
		return nil, records.Kind{}, usagef("unknown record kind %q: want one of %s", name, strings.Join(records.Names, ", "))
	}
	st, err := openStores(c, false)
	if err != nil {
		return nil, records.Kind{}, err
	}
	for _, a := range st.Absent {
		fmt.Fprintf(c.App.ErrWriter, "storefs: note: %s does not exist; its records are shown empty\n", a)
	}
	for _, k := range st.Kinds() {
		if k.Name == name {
			return st, k, nil
		}
	}
	st.Close()
	return nil, records.Kind{}, fmt.Errorf("no %s store", name)
}

func recordList(c *cli.Context) error {
	st, kind, err := openKind(c, 1)
	if err != nil {
		return err
	}
	defer st.Close()
	w := bufio.NewWriter(c.App.Writer)
	defer w.Flush()
	for e, err := range kind.List(c.Context, "") {
		if err != nil {
			return err
		}
		fmt.Fprintln(w, e.ID)
	}
	return w.Flush()
}

func recordShow(c *cli.Context) error {
	st, kind, err := openKind(c, 2)
	if err != nil {
		return err
	}
	defer st.Close()
	js, _, err := kind.JSON(c.Context, c.Args().Get(1))
	if err != nil {
		return err
	}
	_, err = c.App.Writer.Write(js)
	return err
}
