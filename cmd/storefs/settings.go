package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/storacha/storefs/mountopts"
	"github.com/storacha/storefs/store/node"
)

// settingFlags are the flags of the settings table for a command of
// scope: backend settings for every command, mount settings too for
// mount. Values are kept as written; mountopts parses and checks them.
func settingFlags(scope mountopts.Scope) []cli.Flag {
	var flags []cli.Flag
	for _, s := range mountopts.Table {
		if s.Scope == mountopts.Mount && scope != mountopts.Mount {
			continue
		}
		category := "Backend"
		if s.Scope == mountopts.Mount {
			category = "Mount"
		}
		usage := fmt.Sprintf("%s (-o %s, $%s)", s.Usage, s.Opt(), s.Env())
		if s.ValueName != "" { // the backticks name the flag's placeholder
			usage = fmt.Sprintf("%s (-o %s=`%s`, $%s)", s.Usage, s.Opt(), s.ValueName, s.Env())
		}
		if s.Kind == mountopts.Bool {
			flags = append(flags, &cli.BoolFlag{Name: s.Name, Usage: usage, Category: category})
			continue
		}
		flags = append(flags, &cli.StringFlag{Name: s.Name, Usage: usage, Category: category, DefaultText: s.Default})
	}
	// Credentials on a command line show in ps: the flags that once took
	// them are kept only to say where credentials go now.
	for _, name := range []string{"s3-access-key-id", "s3-secret-access-key"} {
		flags = append(flags, &cli.StringFlag{Name: name, Hidden: true})
	}
	return flags
}

// settings resolves the command's settings: its flags, its -o lists and
// SOURCE (mount only), the environment, a Piri config, the defaults. A
// command that writes needs a backend named; the others look for a Piri
// config where Piri keeps it when none is.
func settings(c *cli.Context, scope mountopts.Scope, writes bool) (mountopts.Settings, error) {
	for _, name := range []string{"s3-access-key-id", "s3-secret-access-key"} {
		if c.IsSet(name) {
			return mountopts.Settings{}, usageError{mountopts.CredentialError("--" + name)}
		}
	}
	in := mountopts.Input{Flags: map[string]string{}, Env: os.Getenv, Scope: scope, Discover: !writes, Explicit: writes}
	for _, s := range mountopts.Table {
		// A command's own flag may share a mount setting's name (check
		// --verify): only the command's scope is read from the table.
		if !c.IsSet(s.Name) || (s.Scope == mountopts.Mount && scope != mountopts.Mount) {
			continue
		}
		if s.Kind == mountopts.Bool {
			in.Flags[s.Name] = fmt.Sprint(c.Bool(s.Name))
		} else {
			in.Flags[s.Name] = c.String(s.Name)
		}
	}
	if scope == mountopts.Mount {
		in.Options = c.StringSlice("o")
		in.Source = c.String("source")
	}
	st, err := mountopts.Resolve(in)
	if err != nil {
		if errors.Is(err, mountopts.ErrUsage) {
			return st, usageError{err}
		}
		return st, err
	}
	return st, nil
}

// openStores opens the backend the settings name.
func openStores(c *cli.Context, writable bool) (*node.Stores, error) {
	st, err := settings(c, mountopts.Backend, writable)
	if err != nil {
		return nil, err
	}
	if st.Found != "" {
		fmt.Fprintf(c.App.ErrWriter, "storefs: using the Piri config %s\n", st.Found)
	}
	if st.Warning != "" {
		fmt.Fprintf(c.App.ErrWriter, "storefs: warning: %s\n", st.Warning)
	}
	st.Store.Writable = writable
	stores, err := node.Open(c.Context, st.Store)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", st.Store, err)
	}
	return stores, nil
}

// openBlobs opens only the blob store the settings name: blobs can be
// read beside a running node, whose LevelDB record stores it locks.
func openBlobs(c *cli.Context, st mountopts.Settings) (*node.Stores, error) {
	cfg := st.Store
	cfg.BlobsOnly = true
	stores, err := node.Open(c.Context, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", st.Store, err)
	}
	return stores, nil
}
