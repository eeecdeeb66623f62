package main

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// progress shows a bar on stderr when stderr is a terminal, and nothing
// otherwise (scripts, pipes, tests).
type progress struct{ bar *progressbar.ProgressBar }

func newProgress(c *cli.Context, size int64, what string) progress {
	f, ok := c.App.ErrWriter.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || size < 1<<20 {
		return progress{}
	}
	return progress{progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)}
}

// newCounter is a spinner with a count, for work of no known size (on a
// terminal only, as newProgress).
func newCounter(c *cli.Context, what string) progress {
	f, ok := c.App.ErrWriter.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return progress{}
	}
	return progress{progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(what),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)}
}

// describe says what the bar stands at, shown with its next move.
func (p progress) describe(text string) {
	if p.bar != nil {
		p.bar.Describe(text)
	}
}

func (p progress) reader(r io.Reader) io.Reader {
	if p.bar == nil {
		return r
	}
	pr := progressbar.NewReader(r, p.bar)
	return &pr
}

// set moves the bar to n, for callers that count bytes themselves.
func (p progress) set(n int64) {
	if p.bar != nil {
		p.bar.Set64(n)
	}
}

func (p progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
