// Package mountinfo finds the mount at a directory in
// /proc/self/mountinfo. Reading the table, unlike stat(2) on the
// directory, never walks into the mount, so it cannot keep a FUSE mount
// busy or wait on its daemon.
package mountinfo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Mount is one line of the table.
type Mount struct {
	Major, Minor uint32 // the device st_dev reports for files in it
	Point        string // where it is mounted, unescaped
	FSType       string // e.g. fuse.storefs, ext4
}

// Resolve is dir as the table names it: absolute, with symlinks
// resolved where they can be (a stale mount answers ENOTCONN). Resolve
// a mountpoint before mounting on it: afterwards the walk would enter
// the mount.
func Resolve(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	return abs, nil
}

// At returns the mount on top at dir, a path from Resolve; ok is false
// when nothing is mounted exactly there.
func At(dir string) (m Mount, ok bool, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return Mount{}, false, fmt.Errorf("mount table: %w", err)
	}
	defer f.Close()
	return at(f, dir)
}

func at(r io.Reader, dir string) (m Mount, ok bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20) // long option lists
	for sc.Scan() {
		line, perr := parse(sc.Text())
		if perr != nil {
			continue // a line of a future format; ours is not it
		}
		if line.Point == dir {
			m, ok = line, true // later lines are mounted on top
		}
	}
	if err := sc.Err(); err != nil {
		return Mount{}, false, fmt.Errorf("mount table: %w", err)
	}
	return m, ok, nil
}

// parse reads "id parent maj:min root point opts [tags...] - fstype
// source superopts".
func parse(line string) (Mount, error) {
	fields := strings.Fields(line)
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+1 >= len(fields) {
		return Mount{}, fmt.Errorf("mountinfo line %q: no filesystem type", line)
	}
	major, minor, found := strings.Cut(fields[2], ":")
	if !found {
		return Mount{}, fmt.Errorf("mountinfo line %q: device %q", line, fields[2])
	}
	maj, err1 := strconv.ParseUint(major, 10, 32)
	min, err2 := strconv.ParseUint(minor, 10, 32)
	if err1 != nil || err2 != nil {
		return Mount{}, fmt.Errorf("mountinfo line %q: device %q", line, fields[2])
	}
	return Mount{Major: uint32(maj), Minor: uint32(min), Point: unescape(fields[4]), FSType: fields[sep+1]}, nil
}

// unescape undoes the kernel's octal escapes of space, tab, newline and
// backslash (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
