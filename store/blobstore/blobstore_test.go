package blobstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"io"
	"iter"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/testsupport/s3test"
	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/dsadapter"
	"github.com/storacha/storefs/store/objectstore/flatfs"
	"github.com/storacha/storefs/store/objectstore/memory"
	s3 "github.com/storacha/storefs/store/objectstore/minio"
	"github.com/storacha/storefs/store/objectstore/objectstoretest"
)

const helloB32 = "ciqlstjhxgju2pqiuuxffv62pwv7vree57rxuu4a52iir55m4lx432i"

func sum(t testing.TB, data []byte, code uint64) mh.Multihash {
	t.Helper()
	d, err := mh.Sum(data, code, -1)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNames(t *testing.T) {
	hello := sum(t, []byte("hello world"), mh.SHA2_256)
	if got := blobstore.Name(hello); got != helloB32 {
		t.Fatalf("Name = %s, want %s", got, helloB32)
	}
	aliases := []string{
		helloB32,
		strings.ToUpper(helloB32),
		"zQmaozNR7DZHQK1ZcU9p7QdrshMvXqWK6gpu5rmrkPdT3L4",
		"QmaozNR7DZHQK1ZcU9p7QdrshMvXqWK6gpu5rmrkPdT3L4",
		cid.NewCidV1(cid.Raw, hello).String(),
		cid.NewCidV1(cid.DagCBOR, hello).String(),
	}
	for _, a := range aliases {
		d, err := blobstore.ParseName(a)
		if err != nil || !bytes.Equal(d, hello) {
			t.Errorf("ParseName(%q) = %v, %v", a, d, err)
		}
	}
	for _, bad := range []string{"", "hello", "..", "../../etc/passwd", "ciqlstjhxgju2pqiuu", strings.Repeat("a", 300), "a\x00b", "zzzz", helloB32 + "a"} {
		if _, err := blobstore.ParseName(bad); !errors.Is(err, blobstore.ErrBadName) {
			t.Errorf("ParseName(%q): %v, want ErrBadName", bad, err)
		}
	}
}

type backend struct {
	name string
	new  func(t *testing.T) blobstore.Store
}

func backends(t *testing.T) []backend {
	return []backend{
		{"memory", func(t *testing.T) blobstore.Store { return blobstore.New(memory.New(), blobstore.FlatFS{}) }},
		{"flatfs", func(t *testing.T) blobstore.Store {
			s, err := flatfs.Open(filepath.Join(t.TempDir(), "blobs"), flatfs.Options{Create: true})
			if err != nil {
				t.Fatal(err)
			}
			return blobstore.New(s, blobstore.FlatFS{})
		}},
		{"mapdatastore", func(t *testing.T) blobstore.Store { return blobstore.New(dsadapter.NewMemory(), blobstore.Datastore{}) }},
		{"leveldb", func(t *testing.T) blobstore.Store {
			s, err := dsadapter.OpenLevelDB(t.TempDir(), false)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return blobstore.New(s, blobstore.Datastore{})
		}},
		{"s3", func(t *testing.T) blobstore.Store {
			return blobstore.New(s3Bucket(t, s3test.Start(t), "pdp"), blobstore.S3{})
		}},
	}
}

func s3Bucket(t *testing.T, srv *s3test.Server, bucket string) *s3.Store {
	c, err := s3.NewClient(s3.Config{Endpoint: srv.Endpoint, AccessKeyID: s3test.AccessKey, SecretAccessKey: s3test.SecretKey, Insecure: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Bucket(context.Background(), bucket, true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBlobstore(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := b.new(t)
			ctx := context.Background()
			blobs := map[string][]byte{}
			for i, code := range []uint64{mh.SHA2_256, mh.SHA2_512, mh.BLAKE3, mh.SHA3_256, mh.IDENTITY} {
				data := objectstoretest.Data(uint64(i), 1000*(i+1))
				if code == mh.IDENTITY {
					data = []byte("tiny inline blob")
				}
				d := sum(t, data, code)
				if err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
					t.Fatalf("put %s: %v", mh.Codes[code], err)
				}
				blobs[string(d)] = data
			}

			for digest, data := range blobs {
				d := mh.Multihash(digest)
				obj, err := s.Get(ctx, d, objectstore.WithRange(objectstore.Bytes(1, 4)))
				if err != nil {
					t.Fatal(err)
				}
				got := make([]byte, 10)
				n, _ := obj.Read(got)
				obj.Close()
				if !bytes.Equal(got[:n], data[1:5]) || obj.Size() != int64(len(data)) {
					t.Errorf("range 1-4 of %s: %q (size %d)", blobstore.Name(d), got[:n], obj.Size())
				}
				info, err := s.Stat(ctx, d)
				if err != nil || info.Size != int64(len(data)) || info.Key == "" {
					t.Errorf("stat %s: %+v, %v", blobstore.Name(d), info, err)
				}
			}

			listed := map[string]int64{}
			for info, err := range s.List(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				listed[string(info.Digest)] = info.Size
			}
			if len(listed) != len(blobs) {
				t.Fatalf("listed %d blobs, stored %d", len(listed), len(blobs))
			}
			for d, data := range blobs {
				if listed[d] != int64(len(data)) {
					t.Errorf("listed size of %s = %d, want %d", blobstore.Name(mh.Multihash(d)), listed[d], len(data))
				}
			}

			// Local files: only flatfs offers them, with the same bytes
			// and names as Get and List.
			files := s.Files()
			if (files != nil) != (b.name == "flatfs") {
				t.Fatalf("Files() = %v for %s", files, b.name)
			}
			if files != nil {
				names := 0
				for info, err := range files.ListNames(ctx, nil) {
					name := info.Key
					d, perr := blobstore.ParseName(name)
					if err != nil || perr != nil || (listed[string(d)] == 0 && len(blobs[string(d)]) != 0) {
						t.Fatalf("ListNames: %q, %v, %v", name, err, perr)
					}
					names++
				}
				if names != len(blobs) {
					t.Errorf("ListNames: %d names, want %d", names, len(blobs))
				}
				for digest, data := range blobs {
					f, err := files.OpenFile(mh.Multihash(digest))
					if err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(f)
					f.Close()
					if err != nil || !bytes.Equal(got, data) {
						t.Errorf("OpenFile %s: %d bytes, %v", blobstore.Name(mh.Multihash(digest)), len(got), err)
					}
				}
			}

			// A put whose bytes do not hash to the name stores nothing.
			for _, code := range []uint64{mh.SHA2_256, mh.SHA2_512} {
				d := sum(t, []byte("the real content"), code)
				fake := []byte("other content!!!")
				err := s.Put(ctx, d, int64(len(fake)), bytes.NewReader(fake))
				if !errors.Is(err, blobstore.ErrDigestMismatch) {
					t.Errorf("put of mismatching bytes (%s): %v, want ErrDigestMismatch", mh.Codes[code], err)
				}
				if _, err := s.Stat(ctx, d); !errors.Is(err, objectstore.ErrNotExist) {
					t.Errorf("after a mismatching put (%s), stat = %v", mh.Codes[code], err)
				}
			}
			missing := sum(t, []byte("never stored"), mh.SHA2_256)
			if _, err := s.Get(ctx, missing); !errors.Is(err, objectstore.ErrNotExist) {
				t.Errorf("get missing: %v", err)
			}
		})
	}
}

// TestVerifierKnownDigests checks the verifier against digests computed by
// the standard library, not by go-multihash.
func TestVerifierKnownDigests(t *testing.T) {
	data := []byte("hello world")
	s256 := sha256.Sum256(data)
	s512 := sha512.Sum512(data)
	for code, digest := range map[uint64][]byte{mh.SHA2_256: s256[:], mh.SHA2_512: s512[:]} {
		enc, _ := mh.Encode(digest, code)
		v, err := blobstore.NewVerifier(enc)
		if err != nil {
			t.Fatal(err)
		}
		v.Write(data)
		if err := v.Check(); err != nil {
			t.Errorf("%s: %v", mh.Codes[code], err)
		}
		v, _ = blobstore.NewVerifier(enc)
		v.Write([]byte("hello World"))
		if err := v.Check(); !errors.Is(err, blobstore.ErrDigestMismatch) {
			t.Errorf("%s, other bytes: %v", mh.Codes[code], err)
		}
	}
}

// TestS3PiriLayout reads a bucket laid out by Piri v0.2.4 (sharded keys)
// that also holds a v0.2.3 blob (bare key).
func TestS3PiriLayout(t *testing.T) {
	srv := s3test.Start(t)
	srv.MakeBucket("nodepdp")
	raw := srv.Client()
	ctx := context.Background()
	put := func(key string, data []byte) {
		if _, err := raw.PutObject(ctx, "nodepdp", key, bytes.NewReader(data), int64(len(data)), minioPutOpts); err != nil {
			t.Fatal(err)
		}
	}
	legacy := []byte("a blob stored by piri v0.2.3")
	legacyName := blobstore.Name(sum(t, legacy, mh.SHA2_256))
	put("32/"+helloB32+".data", []byte("hello world"))
	put(legacyName, legacy)
	put("not-a-blob.txt", []byte("ignored"))

	s := blobstore.New(s3Bucket(t, srv, "nodepdp"), blobstore.S3{})
	for name, want := range map[string]string{helloB32: "hello world", legacyName: string(legacy)} {
		d, _ := blobstore.ParseName(name)
		got := readBlob(t, s, d)
		if string(got) != want {
			t.Errorf("%s: %q", name, got)
		}
		// twice: the second read of the legacy blob goes straight to it
		got = readBlob(t, s, d)
		if string(got) != want {
			t.Errorf("%s, again: %q", name, got)
		}
	}
	var keys []string
	for info, err := range s.List(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	if strings.Join(keys, " ") != "32/"+helloB32+".data "+legacyName {
		t.Errorf("listed keys %v", keys)
	}
}

// TestListOnceUnderBothKeys: an S3 node that moved from v0.2.3 to v0.2.4
// holds some blobs under both keys; each is listed once, under its
// v0.2.4 key, and a blob only under the bare key is listed with its
// layout.
func TestListOnceUnderBothKeys(t *testing.T) {
	t.Run("ordered", func(t *testing.T) { testListOnceUnderBothKeys(t, memory.New(), nil) })
	// A store that cannot say what its listing will bring: every bare
	// key waits for the listing's end.
	t.Run("unordered", func(t *testing.T) {
		objects := memory.New()
		testListOnceUnderBothKeys(t, objects, unordered{objects})
	})
}

type unordered struct{ objectstore.Store }

func (unordered) KeyAfter(context.Context, string) (objectstore.Info, bool, error) {
	return objectstore.Info{}, false, objectstore.ErrUnordered
}

// testListOnceUnderBothKeys fills objects and lists them through list
// (objects when nil).
func testListOnceUnderBothKeys(t *testing.T, objects *memory.Store, list objectstore.Store) {
	if list == nil {
		list = objects
	}
	s := blobstore.New(objects, blobstore.S3{})
	ctx := context.Background()
	want := map[string]string{} // name -> layout
	for i := range 300 {
		data := objectstoretest.Data(uint64(i), 100+i)
		d := sum(t, data, mh.SHA2_256)
		switch i % 3 {
		case 0: // v0.2.4 only
			must(t, s.Put(ctx, d, int64(len(data)), bytes.NewReader(data)))
			want[blobstore.Name(d)] = blobstore.LayoutV024
		case 1: // both
			must(t, s.Put(ctx, d, int64(len(data)), bytes.NewReader(data)))
			must(t, objectstore.Put(ctx, objects, blobstore.Name(d), data))
			want[blobstore.Name(d)] = blobstore.LayoutV024
		case 2: // v0.2.3 only
			must(t, objectstore.Put(ctx, objects, blobstore.Name(d), data))
			want[blobstore.Name(d)] = blobstore.LayoutV023
		}
	}
	got := map[string]string{}
	for info, err := range blobstore.New(list, blobstore.S3{}).List(ctx) {
		must(t, err)
		name := blobstore.Name(info.Digest)
		if _, twice := got[name]; twice {
			t.Fatalf("%s listed twice", name)
		}
		got[name] = info.Layout
	}
	if !maps.Equal(got, want) {
		t.Fatalf("listed %d blobs, want %d (or layouts differ)", len(got), len(want))
	}
	// ListKeys shows every key: the 100 blobs under both keys twice.
	keys := map[string]int{}
	for info, err := range s.ListKeys(ctx) {
		must(t, err)
		keys[blobstore.Name(info.Digest)+" "+info.Layout]++
	}
	if len(keys) != 400 {
		t.Fatalf("ListKeys: %d distinct keys, want 400", len(keys))
	}
	for k, n := range keys {
		if n != 1 {
			t.Fatalf("ListKeys: %s %d times", k, n)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestListStreamsBareKeys: a bucket of v0.2.3's bare keys alone is
// listed as it comes, not held until the listing ends (a million of
// them held 500 MiB before the first was yielded), with one KeyAfter.
func TestListStreamsBareKeys(t *testing.T) {
	ctx := context.Background()
	objects := &pacedStore{Store: memory.New()}
	want := map[string]bool{}
	for i := range 500 {
		data := objectstoretest.Data(uint64(i), 10)
		d := sum(t, data, mh.SHA2_256)
		must(t, objectstore.Put(ctx, objects, blobstore.Name(d), data))
		want[blobstore.Name(d)] = true
	}
	got := map[string]bool{}
	for info, err := range blobstore.New(objects, blobstore.S3{}).List(ctx) {
		must(t, err)
		if len(got) == 0 && objects.listed > 1 {
			t.Fatalf("the first blob came after %d keys were listed", objects.listed)
		}
		if info.Layout != blobstore.LayoutV023 {
			t.Fatalf("%s: layout %s", info.Key, info.Layout)
		}
		got[blobstore.Name(info.Digest)] = true
	}
	if !maps.Equal(got, want) {
		t.Fatalf("listed %d blobs, want %d", len(got), len(want))
	}
	if objects.after != 1 {
		t.Fatalf("%d KeyAfter requests, want 1", objects.after)
	}
}

// pacedStore counts the keys its listing has yielded, and KeyAfters.
type pacedStore struct {
	objectstore.Store
	listed, after int
}

func (p *pacedStore) List(ctx context.Context, prefix string) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		p.listed = 0
		for info, err := range p.Store.List(ctx, prefix) {
			p.listed++
			if !yield(info, err) {
				return
			}
		}
	}
}

func (p *pacedStore) KeyAfter(ctx context.Context, key string) (objectstore.Info, bool, error) {
	p.after++
	return p.Store.KeyAfter(ctx, key)
}
