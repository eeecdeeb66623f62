// Package docblock keeps a block of a doc that code generates (a table of
// settings, of findings) equal to what the code says.
package docblock

import (
	"os"
	"strings"
	"testing"
)

// Check fails t when the text of doc between the lines begin and end is
// not want; with update it rewrites that text instead. how says how to
// update, for the failure's message.
func Check(t testing.TB, doc, begin, end, want, how string, update bool) {
	t.Helper()
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Errorf("%s has no generated block (between %q and %q)", doc, strings.TrimSpace(begin), end)
		return
	}
	if text[i+len(begin):j] == want {
		return
	}
	if update {
		if err := os.WriteFile(doc, []byte(text[:i+len(begin)]+want+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s differs from the code (%s); want:\n%s", doc, how, want)
}
