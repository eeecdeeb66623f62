package mountopts_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/storacha/storefs/mountopts"
)

var update = flag.Bool("update", false, "rewrite the settings tables of the docs from mountopts.Table")

const begin, end = "<!-- settings: made from mountopts.Table; go test ./mountopts -update rewrites it -->\n", "<!-- /settings -->"

// The README and docs/operations.md list exactly the table's settings.
func TestDocsListTheTable(t *testing.T) {
	want := mountopts.Markdown()
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
