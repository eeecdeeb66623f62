// Command storefs mounts and inspects the blob and record store of a Piri
// storage node.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	// exitIncomplete: check could not complete (unreachable backend, a
	// LevelDB locked by a running node).
	exitIncomplete = 3
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if helper, err := helperArgs(args); err != nil {
		fmt.Fprintf(stderr, "storefs: %v\n", err)
		return exitUsage
	} else if helper != nil {
		args = helper
	}
	app := newApp(stdout, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := app.RunContext(ctx, args)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "storefs: %v\n", err)
		return exitUsage
	case errors.As(err, new(incompleteError)):
		fmt.Fprintf(stderr, "storefs: %v\n", err)
		return exitIncomplete
	case errors.As(err, new(silentError)):
		return exitFailure
	default:
		fmt.Fprintf(stderr, "storefs: %v\n", err)
		return exitFailure
	}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:      "storefs",
		Usage:     "mount and inspect the blob and record store of a Piri storage node",
		Version:   version,
		Writer:    stdout,
		ErrWriter: stderr,
		Commands:  commands(),
		// Errors are printed once, by run, with the right exit code.
		ExitErrHandler:       func(*cli.Context, error) {},
		Action:               unknownCommand,
		EnableBashCompletion: true,
	}
	app.OnUsageError = onUsageError
	for _, c := range app.Commands {
		markUsage(c)
	}
	return app
}

func commands() []*cli.Command {
	return []*cli.Command{mountCommand(), unmountCommand(), blobCommand(), recordCommand(), checkCommand(), copyCommand(), catalogCommand(), findCommand(), catCommand(), pdpCommand(), cacheCommand(), demoCommand(), versionCommand(), completionCommand()}
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// silentError is a failure already reported to the user: exit code 1
// without another message.
type silentError struct{ error }

func onUsageError(c *cli.Context, err error, _ bool) error {
	return usageError{fmt.Errorf("%w (see %s --help)", err, c.Command.HelpName)}
}

func markUsage(c *cli.Command) {
	c.OnUsageError = onUsageError
	if len(c.Subcommands) > 0 && c.Action == nil {
		c.Action = unknownCommand
	}
	for _, sub := range c.Subcommands {
		markUsage(sub)
	}
}

// unknownCommand is the action of commands that only group others.
func unknownCommand(c *cli.Context) error {
	if c.NArg() == 0 {
		cli.ShowSubcommandHelp(c)
		return usagef("name a command")
	}
	return usagef("unknown command %q (see %s --help)", c.Args().First(), c.Command.HelpName)
}

// args checks the number of positional arguments, and catches flags
// written after them, which urfave/cli would take for arguments.
func args(c *cli.Context, min, max int) error {
	for _, a := range c.Args().Slice() {
		if len(a) > 1 && strings.HasPrefix(a, "-") {
			return usagef("%s: %q after the arguments: flags come before arguments (usage: %s [flags] %s)", c.Command.HelpName, a, c.Command.HelpName, c.Command.ArgsUsage)
		}
	}
	n := c.NArg()
	if n < min || (max >= 0 && n > max) {
		want := fmt.Sprintf("%d", min)
		switch {
		case max < 0:
			want = fmt.Sprintf("at least %d", min)
		case max != min:
			want = fmt.Sprintf("%d to %d", min, max)
		}
		return usagef("%s: want %s argument(s), got %d (usage: %s %s)", c.Command.HelpName, want, n, c.Command.HelpName, c.Command.ArgsUsage)
	}
	return nil
}
