package main

import (
	"bufio"
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/store/config"
	"github.com/storacha/storefs/store/genericstore"
)

// kinds are the record kinds, as the mount names their directories.
var kinds = []string{"allocations", "acceptances", "consolidations", "delegations", "receipts"}

// kind is one record kind's listing and rendering.
type kind struct {
	list func(ctx context.Context) iter.Seq2[genericstore.Entry, error]
	json func(ctx context.Context, id string) ([]byte, error)
}

func kindOf(st *config.Stores, name string) kind {
	switch name {
	case "allocations":
		return kind{func(ctx context.Context) iter.Seq2[genericstore.Entry, error] { return st.Allocations.List(ctx, "") },
			func(ctx context.Context, id string) ([]byte, error) { return render(st.Allocations.Get(ctx, id)) }}
	case "acceptances":
		return kind{func(ctx context.Context) iter.Seq2[genericstore.Entry, error] { return st.Acceptances.List(ctx, "") },
			func(ctx context.Context, id string) ([]byte, error) { return render(st.Acceptances.Get(ctx, id)) }}
	case "consolidations":
		return kind{st.Consolidations.List,
			func(ctx context.Context, id string) ([]byte, error) { return render(st.Consolidations.Get(ctx, id)) }}
	case "delegations":
		return kind{func(ctx context.Context) iter.Seq2[genericstore.Entry, error] { return st.Delegations.List(ctx, "") },
			func(ctx context.Context, id string) ([]byte, error) { return render(st.Delegations.Get(ctx, id)) }}
	}
	return kind{func(ctx context.Context) iter.Seq2[genericstore.Entry, error] { return st.Receipts.List(ctx, "") },
		func(ctx context.Context, id string) ([]byte, error) { return render(st.Receipts.Get(ctx, id)) }}
}

func render[T interface{ JSON() ([]byte, error) }](rec T, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return rec.JSON()
}

func recordCommand() *cli.Command {
	kindHelp := "KIND is one of: " + strings.Join(kinds, ", ")
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
				Flags:     backendFlags(),
				Action:    recordList,
			},
			{
				Name:      "show",
				Usage:     "print a record as the JSON the mount shows",
				ArgsUsage: "KIND KEY",
				UsageText: "storefs record show [backend] KIND KEY\n\n" + kindHelp + ".\n\nExample:\n   storefs record show --data-dir ~/.storacha/piri receipts bafyrei…",
				Flags:     backendFlags(),
				Action:    recordShow,
			},
		},
	}
}

func parseKind(name string) error {
	for _, k := range kinds {
		if k == name {
			return nil
		}
	}
	return usagef("unknown record kind %q: want one of %s", name, strings.Join(kinds, ", "))
}

func openRecords(c *cli.Context) (*config.Stores, error) {
	st, err := openStores(c, false)
	if err != nil {
		return nil, err
	}
	for _, a := range st.Absent {
		fmt.Fprintf(c.App.ErrWriter, "storefs: note: %s does not exist; its records are shown empty\n", a)
	}
	return st, nil
}

func recordList(c *cli.Context) error {
	if err := args(c, 1, 1); err != nil {
		return err
	}
	if err := parseKind(c.Args().First()); err != nil {
		return err
	}
	st, err := openRecords(c)
	if err != nil {
		return err
	}
	defer st.Close()
	w := bufio.NewWriter(c.App.Writer)
	defer w.Flush()
	for e, err := range kindOf(st, c.Args().First()).list(c.Context) {
		if err != nil {
			return err
		}
		fmt.Fprintln(w, e.ID)
	}
	return w.Flush()
}

func recordShow(c *cli.Context) error {
	if err := args(c, 2, 2); err != nil {
		return err
	}
	if err := parseKind(c.Args().First()); err != nil {
		return err
	}
	st, err := openRecords(c)
	if err != nil {
		return err
	}
	defer st.Close()
	js, err := kindOf(st, c.Args().First()).json(c.Context, c.Args().Get(1))
	if err != nil {
		return err
	}
	_, err = c.App.Writer.Write(js)
	return err
}
