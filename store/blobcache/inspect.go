package blobcache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/storacha/storefs/internal/helpers/lockfile"
)

// Info is one blob in a cache directory.
type Info struct {
	Name     string
	Cached   int64 // bytes of the blob on disk
	Size     int64 // the blob's size
	Outboard bool  // its outboard is kept
	Disk     int64 // what it costs the cache: pages, map and outboard
}

// List reads what DIR holds, by name, without taking it: a mount may be
// using it. Entries that do not check are left out.
func List(dir string) ([]Info, error) {
	if _, err := os.Stat(filepath.Join(dir, "blobs")); err != nil {
		return nil, fmt.Errorf("cache %s: not a storefs cache directory: %w", dir, err)
	}
	byName := map[string]*Info{}
	c := &Cache{dir: dir}
	names, err := readNames(filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		name, ok := strings.CutSuffix(n, ".pages")
		if !ok || isTemp(n) {
			continue
		}
		e, _, err := c.readMap(name)
		if err != nil {
			continue
		}
		byName[name] = &Info{Name: name, Cached: cachedBytes(e), Size: e.size, Disk: e.bytes()}
	}
	obs, err := readNames(filepath.Join(dir, "outboards"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, n := range obs {
		if isTemp(n) {
			continue
		}
		raw, err := os.ReadFile(c.outboardPath(n))
		if err != nil {
			continue
		}
		o, err := decodeOutboard(raw)
		if err != nil {
			continue
		}
		in := byName[n]
		if in == nil {
			in = &Info{Name: n, Size: o.size}
			byName[n] = in
		}
		in.Outboard = true
		in.Disk += roundUp(int64(len(raw)), PageSize)
	}
	out := make([]Info, 0, len(byName))
	for _, in := range byName {
		out = append(out, *in)
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Holder says which process holds DIR, "" when none does.
func Holder(dir string) string { return lockfile.Holder(filepath.Join(dir, "lock")) }

// Clear empties DIR; it must not be in use.
func Clear(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "blobs")); err != nil {
		return fmt.Errorf("cache %s: not a storefs cache directory: %w", dir, err)
	}
	lock, err := takeLock(dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	for _, sub := range []string{"blobs", "outboards"} {
		names, err := readNames(filepath.Join(dir, sub))
		if err != nil {
			return err
		}
		// Maps first: a page never stays claimed without its data.
		slices.SortFunc(names, func(a, b string) int {
			return boolInt(!strings.HasSuffix(a, ".pages")) - boolInt(!strings.HasSuffix(b, ".pages"))
		})
		for _, n := range names {
			if err := os.Remove(filepath.Join(dir, sub, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("cache %s: %w", dir, err)
			}
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
