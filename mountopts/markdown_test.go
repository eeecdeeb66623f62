package mountopts_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/storacha/storefs/mountopts"
)

var update = flag.Bool("update", false, "rewrite the settings tables of the docs from mountopts.Table")

const begin, end = "<!-- settings: made from mountopts.Table; go test ./mountopts -update rewrites it -->\n", "<!-- /settings -->"

// The README and docs/operations.md list exactly the table's settings.
func TestDocsListTheTable(t *testing.T) {
	want := markdown()
	for _, doc := range []string{"../README.md", "../docs/operations.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		i, j := strings.Index(text, begin), strings.Index(text, end)
		if i < 0 || j < i {
			t.Errorf("%s has no settings table (between %q and %q)", doc, strings.TrimSpace(begin), end)
			continue
		}
		got := text[i+len(begin) : j]
		if got == want {
			continue
		}
		if *update {
			if err := os.WriteFile(doc, []byte(text[:i+len(begin)]+want+text[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s lists other settings than mountopts.Table (go test ./mountopts -update rewrites it); want:\n%s", doc, want)
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
