package main

import (
	"os"
	"path/filepath"
	"sync"

	mh "github.com/multiformats/go-multihash"
)

// flatfsDir writes blobs into a data dir's pdp/datastore as Piri's
// flatfs lays them out (next-to-last/2 shards), from any goroutine.
type flatfsDir struct {
	root string
	made sync.Map // shard → func() error: its mkdir, once
}

func newFlatfs(dataDir string) (*flatfsDir, error) {
	root := filepath.Join(dataDir, "pdp", "datastore")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "SHARDING"), []byte("/repo/flatfs/shard/v1/next-to-last/2\n"), 0o644); err != nil {
		return nil, err
	}
	return &flatfsDir{root: root}, nil
}

// put writes the blob of digest. Every writer of a shard waits until
// its directory exists (one marked made before its mkdir ended would let
// another write first).
func (f *flatfsDir) put(d mh.Multihash, data []byte) error {
	name := b32(d)
	shard := name[len(name)-3 : len(name)-1]
	mkdir, _ := f.made.LoadOrStore(shard, sync.OnceValue(func() error { return os.MkdirAll(filepath.Join(f.root, shard), 0o755) }))
	if err := mkdir.(func() error)(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(f.root, shard, name+".data"), data, 0o644)
}
