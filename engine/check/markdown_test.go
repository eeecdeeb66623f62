package check_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/storacha/storefs/engine/check"
	"github.com/storacha/storefs/internal/testsupport/docblock"
)

var update = flag.Bool("update", false, "rewrite the findings tables of the docs from check.Types")

const begin, end = "<!-- findings: made from check.Types; go test ./engine/check -update rewrites it -->\n", "<!-- /findings -->"

// The README and docs/operations.md list exactly the types of finding.
func TestDocsListTheFindings(t *testing.T) {
	docblock.Check(t, "../../README.md", begin, end, meanings(), "go test ./engine/check -update rewrites it", *update)
	docblock.Check(t, "../../docs/operations.md", begin, end, fixes(), "go test ./engine/check -update rewrites it", *update)
}

func meanings() string {
	var b strings.Builder
	b.WriteString("| finding | is | meaning |\n|---|---|---|\n")
	for _, f := range check.Types {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.Name, f.Class, f.Meaning)
	}
	return b.String()
}

func fixes() string {
	var b strings.Builder
	b.WriteString("| problem | names | what to do |\n|---|---|---|\n")
	for _, f := range check.Types {
		if f.Class == check.Problem {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.Name, f.Names, f.Fix)
		}
	}
	return b.String()
}

// Every problem says what to do about it; every type is named once.
func TestTypes(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range check.Types {
		if seen[f.Name] {
			t.Errorf("%s twice", f.Name)
		}
		seen[f.Name] = true
		if f.Class == check.Problem && f.Fix == "" {
			t.Errorf("problem %s says nothing of what to do", f.Name)
		}
		if f.Meaning == "" || f.Names == "" {
			t.Errorf("%s: meaning or names missing", f.Name)
		}
	}
	if len(check.ProblemNames)+len(check.InfoNames) != len(check.Types) {
		t.Error("a type is neither a problem nor information")
	}
}
