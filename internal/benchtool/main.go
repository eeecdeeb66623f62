// Command benchtool does the timed parts of scripts/bench.sh, so every
// reader (direct, storefs, rclone, s3fs) is measured by the same code.
//
//	benchtool seq PATH                 read a file sequentially (1 MiB reads); prints seconds
//	benchtool first PATH               open + read the first 4 KiB; prints seconds
//	benchtool randread PATH N          N random 4 KiB preads; prints seconds
//	benchtool parallel PATH N          N concurrent sequential readers; prints seconds
//	benchtool list DIR [-l]            readdir (and lstat each entry); prints seconds and the count
//	benchtool mkflatfs DIR N           N small blobs in Piri's flatfs layout
//	benchtool s3 seq|first|randread|list|putflat BUCKET [KEY|N]
//	                                   the same against S3 directly (minio-go; endpoint
//	                                   in BENCH_S3, credentials in AWS_* variables)
//	benchtool freeport                 a free 127.0.0.1 port
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/multiformats/go-multibase"
	mh "github.com/multiformats/go-multihash"
)

func main() {
	if len(os.Args) < 3 && !(len(os.Args) == 2 && os.Args[1] == "freeport") {
		fmt.Fprintln(os.Stderr, "usage: benchtool seq|first|randread|parallel|list|mkflatfs ARGS")
		os.Exit(2)
	}
	benchStart = time.Now()
	var err error
	extra := ""
	switch os.Args[1] {
	case "seq":
		err = readAll(os.Args[2])
	case "first":
		err = first(os.Args[2])
	case "randread":
		err = randread(os.Args[2], atoi(os.Args[3]))
	case "parallel":
		err = parallel(os.Args[2], atoi(os.Args[3]))
	case "list":
		var n int
		n, err = list(os.Args[2], len(os.Args) > 3 && os.Args[3] == "-l")
		extra = fmt.Sprintf(" %d", n)
	case "mkflatfs":
		err = mkflatfs(os.Args[2], atoi(os.Args[3]))
	case "listr": // every file under a directory tree, as a direct baseline
		n := 0
		err = filepath.WalkDir(os.Args[2], func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return err
		})
		extra = fmt.Sprintf(" %d", n)
	case "s3":
		extra, err = s3cmd(os.Args[2:])
	case "freeport":
		l, lerr := net.Listen("tcp", "127.0.0.1:0")
		if lerr != nil {
			err = lerr
			break
		}
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		return
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
	fmt.Printf("%.6f%s\n", time.Since(benchStart).Seconds(), extra)
}

// benchStart is when the measured work starts.
var benchStart time.Time

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool: not a number:", s)
		os.Exit(2)
	}
	return n
}

func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, make([]byte, 1<<20))
	return err
}

func first(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.ReadFull(f, make([]byte, 4096))
	return err
}

func randread(path string, n int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(7, 7))
	buf := make([]byte, 4096)
	for range n {
		off := rng.Int64N(fi.Size()/4096) * 4096
		if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

func parallel(path string, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- readAll(path) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func list(dir string, long bool) (int, error) {
	d, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	n := 0
	for {
		names, err := d.Readdirnames(4096)
		for _, name := range names {
			if long {
				if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
					return n, err
				}
			}
			n++
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// mkflatfs writes n 64-byte blobs as Piri does (next-to-last/2 shards).
func mkflatfs(dir string, n int) error {
	root := filepath.Join(dir, "pdp", "datastore")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "SHARDING"), []byte("/repo/flatfs/shard/v1/next-to-last/2\n"), 0o644); err != nil {
		return err
	}
	made := map[string]bool{}
	for i := range n {
		data := []byte(fmt.Sprintf("benchmark blob %d %x", i, sha256.Sum256([]byte(strconv.Itoa(i)))))
		d, _ := mh.Sum(data, mh.SHA2_256, -1)
		s, _ := multibase.Encode(multibase.Base32, d)
		name := s[1:]
		shard := name[len(name)-3 : len(name)-1]
		if !made[shard] {
			if err := os.MkdirAll(filepath.Join(root, shard), 0o755); err != nil {
				return err
			}
			made[shard] = true
		}
		if err := os.WriteFile(filepath.Join(root, shard, name+".data"), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func s3cmd(args []string) (string, error) {
	if len(args) < 2 {
		return "", fmt.Errorf("s3: want a command and a bucket")
	}
	c, err := minio.New(os.Getenv("BENCH_S3"), &minio.Options{
		Creds:  credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return "", err
	}
	core := minio.Core{Client: c}
	ctx := context.Background()
	if _, err := c.BucketExists(ctx, args[1]); err != nil { // connect before the clock starts
		return "", err
	}
	benchStart = time.Now()
	bucket := args[1]
	get := func(key string, off, n int64, buf []byte) error {
		var opts minio.GetObjectOptions
		if n > 0 {
			opts.SetRange(off, off+n-1)
		}
		body, _, _, err := core.GetObject(ctx, bucket, key, opts)
		if err != nil {
			return err
		}
		defer body.Close()
		_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{body}, buf)
		return err
	}
	buf := make([]byte, 1<<20)
	switch args[0] {
	case "ping":
		_, err := c.ListBuckets(ctx)
		return "", err
	case "seq":
		return "", get(args[2], 0, 0, buf)
	case "first":
		return "", get(args[2], 0, 4096, buf)
	case "randread":
		info, err := c.StatObject(ctx, bucket, args[2], minio.StatObjectOptions{})
		if err != nil {
			return "", err
		}
		rng := rand.New(rand.NewPCG(7, 7))
		for range atoi(args[3]) {
			if err := get(args[2], rng.Int64N(info.Size/4096)*4096, 4096, buf); err != nil {
				return "", err
			}
		}
		return "", nil
	case "list":
		n := 0
		for obj := range c.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err != nil {
				return "", obj.Err
			}
			n++
		}
		return fmt.Sprintf(" %d", n), nil
	case "putflat": // N small blobs under v0.2.3's flat keys
		c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"})
		for i := range atoi(args[2]) {
			data := []byte(fmt.Sprintf("flat benchmark blob %d", i))
			d, _ := mh.Sum(data, mh.SHA2_256, -1)
			s, _ := multibase.Encode(multibase.Base32, d)
			if _, err := c.PutObject(ctx, bucket, s[1:], bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableContentSha256: true}); err != nil {
				return "", err
			}
		}
		return "", nil
	}
	return "", fmt.Errorf("s3: unknown command %q", args[0])
}
