package main

import (
	"strings"

	"github.com/storacha/storefs/mountopts"
)

// helperArgs rewrites the mount-helper form `storefs SOURCE MOUNTPOINT -o
// OPTS` (how mount.fuse3 runs us for `mount -t fuse.storefs`) into
// `storefs mount --background --source SOURCE -o OPTS MOUNTPOINT`. It
// returns nil when args are not that form.
func helperArgs(args []string) ([]string, error) {
	if len(args) < 3 || strings.HasPrefix(args[1], "-") || isCommand(args[1]) {
		return nil, nil
	}
	h, err := mountopts.ParseHelper(args[1:])
	if err != nil {
		return nil, usageError{err}
	}
	if _, err := mountopts.Source(h.Source); err != nil {
		return nil, usageError{err}
	}
	out := []string{args[0], "mount", "--background", "--source", h.Source}
	for _, list := range h.Options {
		out = append(out, "-o", list)
	}
	return append(out, h.Mountpoint), nil
}

func isCommand(name string) bool {
	if name == "help" || name == "h" {
		return true
	}
	for _, c := range commands() {
		if c.HasName(name) {
			return true
		}
	}
	return false
}
