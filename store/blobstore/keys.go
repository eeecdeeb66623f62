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
	// Layout names the Piri layout a key of this encoder is in (the
	// xattr user.storefs.layout): the Piri version that writes it, or
	// "datastore".
	Layout(key string) string
}

// Layouts, as user.storefs.layout and `blob stat` show them.
const (
	LayoutV024      = "v0.2.4"    // <shard>/<b32>.data in S3, and flatfs
	LayoutV023      = "v0.2.3"    // a bare <b32> in <prefix>pdp, which v0.2.4 no longer finds
	LayoutV022      = "v0.2.2"    // a bare <b32> in a [repo.blob_storage.minio] bucket
	LayoutDatastore = "datastore" // memory and LevelDB: /z<base58btc>
)

// FlatFS names blobs by their b32 name (the flatfs backend adds the shard
// directory and ".data").
type FlatFS struct{}

func (FlatFS) Key(d mh.Multihash) string             { return Name(d) }
func (FlatFS) Fallbacks(mh.Multihash) []string       { return nil }
func (FlatFS) Parse(key string) (mh.Multihash, bool) { return parseB32(key) }
func (FlatFS) Layout(string) string                  { return LayoutV024 }

// S3 is Piri v0.2.4's bucket layout, "<shard>/<b32>.data" with the
// next-to-last/2 shard of flatfs; reads fall back to v0.2.3's bare "<b32>".
type S3 struct{}

func (S3) Key(d mh.Multihash) string {
	name := Name(d)
	return shard(name) + "/" + name + ".data"
}

func (S3) Fallbacks(d mh.Multihash) []string { return []string{Name(d)} }

func (S3) Layout(key string) string {
	if strings.Contains(key, "/") {
		return LayoutV024
	}
	return LayoutV023
}

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

// BareS3 is Piri ≤ v0.2.2's [repo.blob_storage.minio] bucket: one bucket,
// blobs under their bare b32 name.
type BareS3 struct{}

func (BareS3) Key(d mh.Multihash) string             { return Name(d) }
func (BareS3) Fallbacks(mh.Multihash) []string       { return nil }
func (BareS3) Parse(key string) (mh.Multihash, bool) { return parseB32(key) }
func (BareS3) Layout(string) string                  { return LayoutV022 }

// Datastore keys blobs as "z" + base58btc multihash (go-datastore key
// "/zQm…").
type Datastore struct{}

func (Datastore) Key(d mh.Multihash) string       { return "z" + Base58(d) }
func (Datastore) Fallbacks(mh.Multihash) []string { return nil }
func (Datastore) Layout(string) string            { return LayoutDatastore }

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

// b32Values maps the lower-case base32 alphabet to its values, anything
// else to 0xff.
var b32Values = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "abcdefghijklmnopqrstuvwxyz234567" {
		t[c] = byte(i)
	}
	return t
}()

// parseB32 accepts only the canonical b32 form (what the store writes):
// lower-case RFC 4648 base32 without padding, spare bits zero.
func parseB32(name string) (mh.Multihash, bool) {
	var buf [maxName * 5 / 8]byte
	d, ok := decodeB32(name, buf[:0])
	if !ok {
		return nil, false
	}
	return mh.Multihash(append([]byte(nil), d...)), true
}

// validB32 is parseB32 for a yes or no: it allocates nothing, for
// listings, which check every name.
func validB32(name string) bool {
	var buf [maxName * 5 / 8]byte
	_, ok := decodeB32(name, buf[:0])
	return ok
}

// AppendDigest appends to dst the multihash a canonical name (Name's
// form, nothing else) denotes, allocating nothing beyond dst's growth:
// for joins over millions of listed names.
func AppendDigest(dst []byte, name string) ([]byte, bool) { return decodeB32(name, dst) }

// decodeB32 decodes a canonical name into d (appending) by hand.
func decodeB32(name string, d []byte) ([]byte, bool) {
	if name == "" || len(name) > maxName {
		return nil, false
	}
	start, rest := len(d), name
	for ; len(rest) >= 8; rest = rest[8:] { // 8 characters are 5 whole bytes
		var v uint64
		var seen byte
		for i := range 8 {
			c := b32Values[rest[i]]
			seen |= c
			v = v<<5 | uint64(c)
		}
		if seen&0xe0 != 0 { // 0xff (not base32) has these bits set
			return nil, false
		}
		d = append(d, byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	var acc uint32
	bits := 0
	for i := 0; i < len(rest); i++ {
		v := b32Values[rest[i]]
		if v == 0xff {
			return nil, false
		}
		acc = acc<<5 | uint32(v)
		if bits += 5; bits >= 8 {
			bits -= 8
			d = append(d, byte(acc>>bits))
		}
	}
	// The canonical encoding of n bytes leaves fewer than 5 spare bits,
	// all zero.
	if bits >= 5 || acc&(1<<bits-1) != 0 || !known(d[start:]) {
		return nil, false
	}
	return d, true
}
