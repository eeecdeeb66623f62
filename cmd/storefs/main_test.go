package main

import (
	"os"
	"testing"
)

// TestMain keeps the catalogues the commands write in a temp dir, not
// the user's cache.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "storefs-cmd-catalog-")
	if err != nil {
		panic(err)
	}
	os.Setenv("STOREFS_CATALOG_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
