package mountopts

import (
	"fmt"
	"strings"
)

// Markdown is the settings table as the README and docs/operations.md
// show it (a test keeps them equal).
func Markdown() string {
	var b strings.Builder
	b.WriteString("| flag | `-o` (mount, fstab) | environment | default | what |\n|---|---|---|---|---|\n")
	for _, scope := range []Scope{Backend, Mount} {
		for _, s := range Of(scope) {
			flag, opt := "--"+s.Name, s.Opt()
			if s.Kind != Bool {
				flag += " " + s.ValueName
				opt += "=" + s.ValueName
			}
			def := s.Default
			if def != "" {
				def = "`" + def + "`"
			}
			what := s.Usage
			if scope == Mount {
				what = "(mount) " + what
			}
			fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s | %s |\n", flag, opt, s.Env(), def, what)
		}
	}
	return b.String()
}
