package blobstore

import (
	"strings"

	mh "github.com/multiformats/go-multihash"
)

// KeyEncoder maps blobs to backend keys, as each Piri backend lays them out.
type KeyEncoder interface {
	// Key is where a blob is written.
	Key(digest mh.Multihash) string
	// Fallbacks are older keys a read also tries, in order.
	Fallbacks(digest mh.Multihash) []string
	// Parse recognises a listed key as a blob; other keys are skipped.
	Parse(key string) (mh.Multihash, bool)
}

// FlatFS names blobs by their b32 name (the flatfs backend adds the shard
// directory and ".data").
type FlatFS struct{}

func (FlatFS) Key(d mh.Multihash) string             { return Name(d) }
func (FlatFS) Fallbacks(mh.Multihash) []string       { return nil }
func (FlatFS) Parse(key string) (mh.Multihash, bool) { return parseB32(key) }

// S3 is Piri v0.2.4's bucket layout, "<shard>/<b32>.data" with the
// next-to-last/2 shard of flatfs; reads fall back to v0.2.3's bare "<b32>".
type S3 struct{}

func (S3) Key(d mh.Multihash) string {
	name := Name(d)
	return shard(name) + "/" + name + ".data"
}

func (S3) Fallbacks(d mh.Multihash) []string { return []string{Name(d)} }

func (S3) Parse(key string) (mh.Multihash, bool) {
	if dir, file, ok := strings.Cut(key, "/"); ok {
		name, ok := strings.CutSuffix(file, ".data")
		if !ok || shard(name) != dir {
			return nil, false
		}
		return parseB32(name)
	}
	return parseB32(key)
}

// shard is flatfs' next-to-last/2 function.
func shard(name string) string {
	padded := name
	for len(padded) < 3 {
		padded = "_" + padded
	}
	return padded[len(padded)-3 : len(padded)-1]
}

// Datastore keys blobs as "z" + base58btc multihash (go-datastore key
// "/zQm…").
type Datastore struct{}

func (Datastore) Key(d mh.Multihash) string       { return "z" + Base58(d) }
func (Datastore) Fallbacks(mh.Multihash) []string { return nil }

func (Datastore) Parse(key string) (mh.Multihash, bool) {
	b58, ok := strings.CutPrefix(key, "z")
	if !ok {
		return nil, false
	}
	d, err := mh.FromB58String(b58)
	if err != nil || !known(d) {
		return nil, false
	}
	return d, true
}

// parseB32 accepts only the canonical b32 form (what the store writes).
func parseB32(name string) (mh.Multihash, bool) {
	d, err := ParseName(name)
	if err != nil || Name(d) != name {
		return nil, false
	}
	return d, true
}
