package mountopts_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/storacha/storefs/internal/testsupport/docblock"
	"github.com/storacha/storefs/mountopts"
)

var update = flag.Bool("update", false, "rewrite the settings tables of the docs from mountopts.Table")

const begin, end = "<!-- settings: made from mountopts.Table; go test ./mountopts -update rewrites it -->\n", "<!-- /settings -->"

// The README and docs/operations.md list exactly the table's settings.
func TestDocsListTheTable(t *testing.T) {
	for _, doc := range []string{"../README.md", "../docs/operations.md"} {
		docblock.Check(t, doc, begin, end, markdown(), "go test ./mountopts -update rewrites it", *update)
	}
}

// markdown is the settings table as the README and docs/operations.md
// show it (a test keeps them equal).
func markdown() string {
	var b strings.Builder
	b.WriteString("| flag | `-o` (mount, fstab) | environment | default | what |\n|---|---|---|---|---|\n")
	for _, scope := range []mountopts.Scope{mountopts.Backend, mountopts.Mount} {
		for _, s := range mountopts.Of(scope) {
			flag, opt := "--"+s.Name, s.Opt()
			if s.Kind != mountopts.Bool {
				flag += " " + s.ValueName
				opt += "=" + s.ValueName
			}
			def := s.Default
			if def != "" {
				def = "`" + def + "`"
			}
			what := s.Usage
			if scope == mountopts.Mount {
				what = "(mount) " + what
			}
			fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s | %s |\n", flag, opt, s.Env(), def, what)
		}
	}
	return b.String()
}
