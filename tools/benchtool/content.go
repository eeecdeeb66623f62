package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/multiformats/go-multibase"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/testsupport/uploads"
)

// mkcontent stores the upload the /content rows read: big.bin (1 GiB)
// and p0…p7 (64 MiB each), 1 MiB raw leaves, 1024 links a node (the JS
// client's: a 2-level DAG), cut into JS-client shards of 133,169,152
// bytes with their index. DEST is a data dir, or s3:BUCKET (the S3 of
// BENCH_S3); out names what was made, a line each:
//
//	root CID | big CID | p CID (×8) | bigshard B32 (the shards holding big.bin) | shard B32 (each shard) | index B32
func mkcontent(dest string) (string, error) {
	var entries []uploads.Entry
	add := func(name string, n int, seed byte) {
		data := make([]byte, n)
		rand.NewChaCha8([32]byte{seed}).Read(data)
		entries = append(entries, uploads.Entry{Path: name, Data: data})
	}
	add("big.bin", 1<<30, 1)
	for i := range 8 {
		add(fmt.Sprintf("p%d", i), 64<<20, byte(10+i))
	}
	d, err := uploads.Import(entries, uploads.Options{Chunk: 1 << 20, MaxLinks: 1024})
	if err != nil {
		return "", err
	}
	entries = nil
	u, err := uploads.JS(uploads.JSShardSize).Pack(d)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	fmt.Fprintf(&out, "root %s\nbig %s\n", d.Root, d.Files["big.bin"])
	for i := range 8 {
		fmt.Fprintf(&out, "p %s\n", d.Files[fmt.Sprintf("p%d", i)])
	}
	bigRoot := u.Slices[string(d.Files["big.bin"].Hash())].Shard
	for _, s := range u.Shards {
		fmt.Fprintf(&out, "bigshard %s\n", b32(s.Digest))
		if bytes.Equal(s.Digest, bigRoot) {
			break
		}
	}
	for _, s := range u.Shards {
		fmt.Fprintf(&out, "shard %s\n", b32(s.Digest))
	}
	for _, s := range u.Indexes {
		fmt.Fprintf(&out, "index %s\n", b32(s.Digest))
	}
	blobs := append(append([]uploads.Blob{}, u.Shards...), u.Indexes...)
	if bucket, ok := strings.CutPrefix(dest, "s3:"); ok {
		c, err := s3client()
		if err != nil {
			return "", err
		}
		ctx := context.Background()
		c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"})
		for _, b := range blobs {
			name := b32(b.Digest)
			key := name[len(name)-3:len(name)-1] + "/" + name + ".data"
			if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(b.Data), int64(len(b.Data)), minio.PutObjectOptions{DisableContentSha256: true}); err != nil {
				return "", err
			}
		}
		return out.String(), nil
	}
	fd, err := newFlatfs(dest)
	if err != nil {
		return "", err
	}
	for _, b := range blobs {
		if err := fd.put(b.Digest, b.Data); err != nil {
			return "", err
		}
	}
	return out.String(), nil
}

func b32(d mh.Multihash) string {
	s, _ := multibase.Encode(multibase.Base32, d)
	return s[1:]
}
