package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print the version of storefs and of the libraries it is built with",
		UsageText: "storefs version\n\nExample:\n   storefs version",
		Action: func(c *cli.Context) error {
			if err := args(c, 0, 0); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "storefs %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if info, ok := debug.ReadBuildInfo(); ok {
				for _, dep := range info.Deps {
					switch dep.Path {
					case "github.com/hanwen/go-fuse/v2", "github.com/minio/minio-go/v7", "github.com/ipld/go-ipld-prime", "github.com/ipld/go-car/v2":
						fmt.Fprintf(c.App.Writer, "  %s %s\n", dep.Path, dep.Version)
					}
				}
			}
			return nil
		},
	}
}

// bashCompletion is urfave/cli's completion protocol: the shell asks the
// binary itself (--generate-bash-completion) for the words that fit.
const bashCompletion = `# storefs completion for bash (and zsh through bashcompinit)
_storefs_complete() {
  local cur opts
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [[ "$cur" == "-"* ]]; then
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -F _storefs_complete storefs
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash; zsh with bashcompinit)",
		ArgsUsage: "SHELL",
		UsageText: "storefs completion bash|zsh\n\nExamples:\n   source <(storefs completion bash)\n   storefs completion bash > /etc/bash_completion.d/storefs",
		Action: func(c *cli.Context) error {
			if err := args(c, 1, 1); err != nil {
				return err
			}
			switch c.Args().First() {
			case "bash":
				fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				fmt.Fprint(c.App.Writer, "autoload -U +X bashcompinit && bashcompinit\n"+bashCompletion)
			default:
				return usagef("completion %q: want bash or zsh", c.Args().First())
			}
			return nil
		},
	}
}
