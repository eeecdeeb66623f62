// Command benchtool does the timed parts of scripts/bench.sh, so every
// reader (direct, storefs, rclone, s3fs) is measured by the same code.
//
//	benchtool seq PATH                 read a file sequentially (1 MiB reads); prints seconds
//	benchtool first PATH...            open + read the first 4 KiB of each, after 20 ms
//	                                   idle; prints the median seconds
//	benchtool randread PATH N          N random 4 KiB preads; prints seconds
//	benchtool parallel PATH N          N concurrent sequential readers; prints seconds
//	benchtool list DIR [-l]            readdir as ls does (and lstat each entry); prints seconds and the count
//	benchtool listr DIR                every file under DIR, as find does; prints seconds and the count
//	benchtool mkflatfs DIR N [SPACES]  N small blobs in Piri's flatfs layout; with SPACES,
//	                                   each accepted by one of that many spaces (LevelDB)
//	benchtool mkuploads DIR N INDEXES SLICES
//	                                   N blobs in Piri's flatfs layout, INDEXES of them sharded
//	                                   DAG indexes of SLICES slices each (over shards kept
//	                                   elsewhere); prints one slice's multihash (b32)
//	benchtool s3 seq|first|randread|list|putflat BUCKET [KEY...|N]
//	benchtool s3 putuploads BUCKET N INDEXES SLICES SIZE
//	                                   the same under v0.2.4's sharded keys, other blobs SIZE bytes
//	benchtool s3 heads BUCKET N        list the bucket and read each object's first 4 KiB,
//	                                   N ranged GETs at a time; prints seconds and the count
//	benchtool s3 randpar BUCKET KEY N SECONDS
//	                                   N readers of random 4 KiB ranges at once; prints seconds and IOPS
//	benchtool s3 listpar BUCKET N      list every key by shard prefix, N prefixes at a time; prints seconds and the count
//	benchtool s3 putsharded BUCKET N   N small blobs under Piri v0.2.4's sharded keys
//	benchtool s3 streams BUCKET KEY N CHUNK
//	                                   N parallel ranged GETs of CHUNK bytes over the object
//	                                   the same against S3 directly (minio-go; endpoint
//	                                   in BENCH_S3, credentials in AWS_* variables)
//	benchtool randfiles N PATH...       N random 4 KiB preads over the files' bytes; prints seconds
//	benchtool mkcontent DIR|s3:BUCKET  the upload the /content rows read (see content.go)
//	benchtool mkpdp DIR N ROOTS SIZE [real]
//	                                   a data dir of N blobs of SIZE bytes in one proof set of
//	                                   ROOTS roots, with its PDP state (real: computed commPs)
//	benchtool exec N CMD [ARG...]      run CMD N times (output discarded); prints the median
//	                                   seconds from start to exit
//	benchtool freeport                 a free 127.0.0.1 port
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/multiformats/go-multibase"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/helpers/pool"
	"github.com/storacha/storefs/internal/testsupport/uploads"
	"github.com/storacha/storefs/store/acceptancestore"
	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/objectstore/dsadapter"
	"github.com/storacha/storefs/store/recordkind"
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
		measured, err = medianAfterIdle(os.Args[2:], first)
	case "randread":
		err = randread(os.Args[2], atoi(os.Args[3]))
	case "parallel":
		err = parallel(os.Args[2], atoi(os.Args[3]))
	case "list":
		var n int
		n, err = list(os.Args[2], len(os.Args) > 3 && os.Args[3] == "-l")
		extra = fmt.Sprintf(" %d", n)
	case "mkflatfs":
		spaces := 0
		if len(os.Args) > 4 {
			spaces = atoi(os.Args[4])
		}
		err = mkflatfs(os.Args[2], atoi(os.Args[3]), spaces)
	case "mkuploads":
		var sample string
		sample, err = mkuploads(os.Args[2], atoi(os.Args[3]), atoi(os.Args[4]), atoi(os.Args[5]))
		if err == nil {
			fmt.Println(sample)
			return
		}
	case "listr": // every file under a directory tree, as a direct baseline
		var n int
		n, err = listTree(os.Args[2])
		extra = fmt.Sprintf(" %d", n)
	case "s3":
		extra, err = s3cmd(os.Args[2:])
	case "exec":
		measured, err = execMedian(atoi(os.Args[2]), os.Args[3:])
	case "randfiles":
		err = randFiles(atoi(os.Args[2]), os.Args[3:])
	case "mkpdp": // DIR N ROOTS SIZE [real]
		err = mkpdp(os.Args[2], atoi(os.Args[3]), atoi(os.Args[4]), atoi(os.Args[5]), len(os.Args) > 6 && os.Args[6] == "real")
	case "linkfs": // MNT DIRS PER
		err = linkfs(os.Args[2], atoi(os.Args[3]), atoi(os.Args[4]))
	case "mkcontent":
		var made string
		if made, err = mkcontent(os.Args[2]); err == nil {
			fmt.Print(made)
			return
		}
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
	if measured < 0 {
		measured = time.Since(benchStart).Seconds()
	}
	fmt.Printf("%.6f%s\n", measured, extra)
}

// benchStart is when the measured work starts; measured, when set, is the
// result instead of the time since then.
var (
	benchStart time.Time
	measured   = -1.0
)

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
	return drain(f, make([]byte, 1<<20))
}

// idleGap is how long nothing runs before each "first" measurement:
// a user's open comes after a pause, and where idle CPUs and parked
// threads wake slowly a request that follows another closely is faster
// (~0.5 ms, measured on a 2-core VM) than one after a pause, for storefs
// and a direct GET alike.
const idleGap = 20 * time.Millisecond

// medianAfterIdle times op on each target, after idleGap, and returns the
// median in seconds.
func medianAfterIdle(targets []string, op func(string) error) (float64, error) {
	var times []float64
	for _, t := range targets {
		time.Sleep(idleGap)
		start := time.Now()
		if err := op(t); err != nil {
			return 0, err
		}
		times = append(times, time.Since(start).Seconds())
	}
	slices.Sort(times)
	return times[len(times)/2], nil
}

// drain reads r to its end in reads of len(buf). (io.CopyBuffer to
// io.Discard would not: io.Discard's ReadFrom reads 8 KiB at a time with
// a buffer of its own.)
func drain(r io.Reader, buf []byte) error {
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
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
	n := 0
	err := readdir(dir, func(name string, _ byte) error {
		if long {
			if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
		n++
		return nil
	})
	return n, err
}

// listTree counts the files under dir, as find does.
func listTree(dir string) (int, error) {
	n := 0
	err := readdir(dir, func(name string, typ byte) error {
		path := filepath.Join(dir, name)
		if typ == syscall.DT_UNKNOWN {
			fi, err := os.Lstat(path)
			if err != nil {
				return err
			}
			if fi.IsDir() {
				typ = syscall.DT_DIR
			}
		}
		if typ != syscall.DT_DIR {
			n++
			return nil
		}
		m, err := listTree(path)
		n += m
		return err
	})
	return n, err
}

// readdir calls fn for each entry of dir (but . and ..) the way glibc's
// readdir reads a directory for ls, find and rsync: getdents64 into a
// buffer sized by the directory's st_blksize, from 32 KiB to 1 MiB. Go's
// os package reads 8 KiB at a time; through FUSE every buffer is a round
// trip, so it would measure a lister no shell tool is.
func readdir(dir string, fn func(name string, typ byte) error) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	buf := make([]byte, min(max(int(st.Blksize), 32<<10), 1<<20))
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("getdents %s: %w", dir, err)
		}
		if n == 0 {
			return nil
		}
		// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name
		for b := buf[:n]; len(b) > 0; {
			reclen := int(binary.NativeEndian.Uint16(b[16:]))
			typ, name := b[18], b[19:reclen]
			name = name[:bytes.IndexByte(name, 0)]
			b = b[reclen:]
			if string(name) == "." || string(name) == ".." {
				continue
			}
			if err := fn(string(name), typ); err != nil {
				return err
			}
		}
	}
}

// mkflatfs writes n 64-byte blobs as Piri does (next-to-last/2 shards).
func mkflatfs(dir string, n, spaces int) error {
	fd, err := newFlatfs(dir)
	if err != nil {
		return err
	}
	var accepts *acceptancestore.Store
	dids := spaceDIDs(spaces)
	if spaces > 0 {
		db, err := dsadapter.OpenLevelDB(filepath.Join(dir, recordkind.Acceptances.Dir), false)
		if err != nil {
			return err
		}
		defer db.Close()
		accepts = acceptancestore.New(db, recordkind.Datastore)
	}
	for i := range n {
		data := []byte(fmt.Sprintf("benchmark blob %d %x", i, sha256.Sum256([]byte(strconv.Itoa(i)))))
		d, _ := mh.Sum(data, mh.SHA2_256, -1)
		if err := fd.put(d, data); err != nil {
			return err
		}
		if accepts != nil {
			a := acceptancestore.Acceptance{Space: dids[i%spaces], Digest: d, Size: int64(len(data)), ExecutedAt: 1764000000, Cause: ipldutil.CBORCID(d)}
			if err := accepts.Put(context.Background(), a.ID(), a); err != nil {
				return err
			}
		}
	}
	return nil
}

func s3cmd(args []string) (string, error) {
	if len(args) < 2 {
		return "", fmt.Errorf("s3: want a command and a bucket")
	}
	c, err := s3client()
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
		return drain(body, buf)
	}
	buf := make([]byte, 1<<20)
	switch args[0] {
	case "ping":
		_, err := c.ListBuckets(ctx)
		return "", err
	case "seq":
		return "", get(args[2], 0, 0, buf)
	case "first": // the median over the keys, each after idleGap
		measured, err = medianAfterIdle(args[2:], func(key string) error { return get(key, 0, 4096, buf) })
		return "", err
	case "streams": // KEY N CHUNK: N parallel ranged GETs of CHUNK bytes cover the object, in order
		info, err := c.StatObject(ctx, bucket, args[2], minio.StatObjectOptions{})
		if err != nil {
			return "", err
		}
		n, chunk := atoi(args[3]), int64(atoi(args[4]))
		var next atomic.Int64
		errs := make(chan error, n)
		for range n {
			go func() {
				buf := make([]byte, 1<<20)
				for {
					off := next.Add(chunk) - chunk
					if off >= info.Size {
						errs <- nil
						return
					}
					if err := get(args[2], off, min(chunk, info.Size-off), buf); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				return "", err
			}
		}
		return "", nil
	case "randpar": // KEY N SECONDS: N readers of random 4 KiB ranges at once; prints IOPS after the seconds
		info, err := c.StatObject(ctx, bucket, args[2], minio.StatObjectOptions{})
		if err != nil {
			return "", err
		}
		n, until := atoi(args[3]), time.Now().Add(time.Duration(atoi(args[4]))*time.Second)
		var reads atomic.Int64
		errs := make(chan error, n)
		for i := range n {
			go func() {
				rng, buf := rand.New(rand.NewPCG(7, uint64(i))), make([]byte, 4096)
				for time.Now().Before(until) {
					if err := get(args[2], rng.Int64N(info.Size/4096)*4096, 4096, buf); err != nil {
						errs <- err
						return
					}
					reads.Add(1)
				}
				errs <- nil
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				return "", err
			}
		}
		return fmt.Sprintf(" %.0f", float64(reads.Load())/time.Since(benchStart).Seconds()), nil
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
	case "listpar": // N: the shard prefixes first (a delimiter listing), then each listed by one of N workers
		var prefixes []string
		n := 0
		for obj := range c.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{}) {
			if obj.Err != nil {
				return "", obj.Err
			}
			if strings.HasSuffix(obj.Key, "/") {
				prefixes = append(prefixes, obj.Key)
			} else {
				n++
			}
		}
		err := pool.Each(ctx, atoi(args[2]), count(len(prefixes)), func(ctx context.Context, i int) (int, error) {
			keys := 0
			for obj := range c.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Prefix: prefixes[i], Recursive: true}) {
				if obj.Err != nil {
					return 0, obj.Err
				}
				keys++
			}
			return keys, nil
		}, func(_ int, keys int, err error) error {
			n += keys
			return err
		})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf(" %d", n), nil
	case "putsharded": // N small blobs under v0.2.4's sharded keys, 16 PUTs at a time
		c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"})
		return "", pool.Each(ctx, 16, count(atoi(args[2])), func(ctx context.Context, i int) (struct{}, error) {
			data := []byte(fmt.Sprintf("sharded benchmark blob %d", i))
			d, _ := mh.Sum(data, mh.SHA2_256, -1)
			s, _ := multibase.Encode(multibase.Base32, d)
			key := s[len(s)-3:len(s)-1] + "/" + s[1:] + ".data"
			_, err := c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableContentSha256: true})
			return struct{}{}, err
		}, func(_ int, _ struct{}, err error) error { return err })
	case "putuploads": // a node of uploads' blobs, 16 PUTs at a time
		c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"})
		n, indexes, per, size := atoi(args[2]), atoi(args[3]), atoi(args[4]), atoi(args[5])
		return "", pool.Each(ctx, 16, count(n), func(ctx context.Context, i int) (struct{}, error) {
			data, err := uploadBlob(i, indexes, per, size)
			if err != nil {
				return struct{}{}, err
			}
			d, _ := mh.Sum(data, mh.SHA2_256, -1)
			s, _ := multibase.Encode(multibase.Base32, d)
			key := s[len(s)-3:len(s)-1] + "/" + s[1:] + ".data"
			_, err = c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableContentSha256: true})
			return struct{}{}, err
		}, func(_ int, _ struct{}, err error) error { return err })
	case "heads": // the bare client a catalogue's first build is measured against
		var keys []string
		for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err != nil {
				return "", obj.Err
			}
			keys = append(keys, obj.Key)
		}
		items := func(yield func(string, error) bool) {
			for _, k := range keys {
				if !yield(k, nil) {
					return
				}
			}
		}
		err := pool.Each(ctx, atoi(args[2]), items, func(ctx context.Context, key string) (struct{}, error) {
			opts := minio.GetObjectOptions{}
			opts.SetRange(0, 4095)
			obj, _, _, err := core.GetObject(ctx, bucket, key, opts)
			if err != nil {
				return struct{}{}, err
			}
			defer obj.Close()
			_, err = io.Copy(io.Discard, obj)
			return struct{}{}, err
		}, func(_ string, _ struct{}, err error) error { return err })
		return fmt.Sprintf(" %d", len(keys)), err
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

// count yields 0 … n-1, as pool.Each takes items.
func count(n int) iter.Seq2[int, error] {
	return func(yield func(int, error) bool) {
		for i := range n {
			if !yield(i, nil) {
				return
			}
		}
	}
}

// uploadBlob is blob i of a synthetic node of uploads' blobs: the first
// indexes are sharded DAG indexes of per slices each, over four shards
// the node does not hold (an upload's index and shards usually sit on
// different nodes); the others are size bytes (at least their number).
func uploadBlob(i, indexes, per, size int) ([]byte, error) {
	if i >= indexes {
		data := make([]byte, max(size, 64))
		copy(data, fmt.Sprintf("upload benchmark blob %d %x", i, sha256.Sum256([]byte(strconv.Itoa(i)))))
		return data, nil
	}
	content, _ := mh.Sum([]byte(fmt.Sprint("content ", i)), mh.SHA2_256, -1)
	var shards []uploads.IndexShard
	for s := range 4 {
		sd, _ := mh.Sum([]byte(fmt.Sprintf("shard %d %d", i, s)), mh.SHA2_256, -1)
		shard := uploads.IndexShard{Shard: sd}
		var off uint64 = 59
		for j := s; j < per; j += 4 {
			d := sliceDigest(i, j)
			shard.Slices = append(shard.Slices, uploads.IndexSlice{Digest: d, Offset: off, Length: 1 << 20})
			off += 1<<20 + 40
		}
		shards = append(shards, shard)
	}
	return uploads.EncodeIndex(cid.NewCidV1(cid.DagProtobuf, content), shards)
}

// sliceDigest is slice j of index i.
func sliceDigest(i, j int) mh.Multihash {
	d, _ := mh.Sum([]byte(fmt.Sprintf("slice %d %d", i, j)), mh.SHA2_256, -1)
	return d
}

// mkuploads writes a synthetic node of uploads' blobs (uploadBlob, small
// blobs) in Piri's flatfs layout, and names one of its slices.
func mkuploads(dir string, n, indexes, per int) (string, error) {
	fd, err := newFlatfs(dir)
	if err != nil {
		return "", err
	}
	err = pool.Each(context.Background(), 4, count(n), func(ctx context.Context, i int) (struct{}, error) {
		data, err := uploadBlob(i, indexes, per, 0)
		if err != nil {
			return struct{}{}, err
		}
		d, _ := mh.Sum(data, mh.SHA2_256, -1)
		return struct{}{}, fd.put(d, data)
	}, func(_ int, _ struct{}, err error) error { return err })
	if err != nil {
		return "", err
	}
	s, _ := multibase.Encode(multibase.Base32, sliceDigest(indexes/2, per/2))
	return s[1:], nil
}

// execMedian times a command as a user waits for it: from start to exit,
// with nothing else (no shell, no clock process) inside the timing.
func execMedian(n int, argv []string) (float64, error) {
	if n < 1 || len(argv) == 0 {
		return 0, fmt.Errorf("exec: N >= 1 and a command")
	}
	var ts []float64
	for range n {
		cmd := exec.Command(argv[0], argv[1:]...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, fmt.Errorf("exec %s: %w: %s", argv[0], err, stderr.Bytes())
		}
		ts = append(ts, time.Since(t0).Seconds())
	}
	slices.Sort(ts)
	return ts[len(ts)/2], nil
}

// s3client is a client of the S3 at BENCH_S3, credentials in AWS_*.
func s3client() (*minio.Client, error) {
	return minio.New(os.Getenv("BENCH_S3"), &minio.Options{
		Creds:  credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath,
	})
}

// randFiles reads n random 4 KiB ranges, each in a file chosen by its
// size (so uniform over all their bytes); prints seconds.
func randFiles(n int, paths []string) error {
	var files []*os.File
	var sizes []int64
	var total int64
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		files, sizes, total = append(files, f), append(sizes, fi.Size()), total+fi.Size()
	}
	rng := rand.New(rand.NewPCG(7, 7))
	buf := make([]byte, 4096)
	benchStart = time.Now()
	for range n {
		at, i := rng.Int64N(total), 0
		for at >= sizes[i] {
			at, i = at-sizes[i], i+1
		}
		if _, err := files[i].ReadAt(buf, max(min(at, sizes[i]-4096), 0)); err != nil {
			return err
		}
	}
	return nil
}
