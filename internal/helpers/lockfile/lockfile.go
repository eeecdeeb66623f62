// Package lockfile takes a lock file for this process (flock, never
// waiting) and writes who holds it into it, so that whoever is refused
// can say who holds it: the blob cache's directory and the catalogue's
// writer take one each.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// HeldError is a lock another process holds.
type HeldError struct {
	Holder string // what it wrote: "storefs pid N (its command line)"
}

func (e *HeldError) Error() string { return "held by " + e.Holder }

// Take locks path (creating it) for this process and writes the process
// into it. A lock held elsewhere is a *HeldError.
func Take(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &HeldError{Holder: holder(path)}
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	self := "storefs pid " + strconv.Itoa(os.Getpid())
	if len(os.Args) > 0 {
		self += " (" + strings.Join(os.Args, " ") + ")"
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(self+"\n"), 0)
	}
	return f, nil
}

// Holder is who holds path's lock, "" when nobody does.
func Holder(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return ""
	}
	return holder(path)
}

// holder is what the holder wrote into path.
func holder(path string) string {
	raw, _ := os.ReadFile(path)
	if who := strings.TrimSpace(string(raw)); who != "" {
		return who
	}
	return "another process"
}
