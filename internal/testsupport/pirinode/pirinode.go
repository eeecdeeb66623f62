// Package pirinode writes a node's store the way Piri v0.2.4 lays it out,
// with go-datastore, go-ds-leveldb, go-ds-flatfs, minio-go and
// go-ipld-prime directly and no storefs store code: what storefs reads
// (and what `storefs check` judges) is tested against a writer it shares
// no code with. Records with UCANs in them are real ucanto artifacts from
// the fixtures.
//
// Layouts, from Piri v0.2.4 (pkg/fx/store, pkg/store/…):
//
//	data dir: blobs  pdp/datastore/<shard>/<b32>.data (flatfs next-to-last/2)
//	          allocation/, acceptance/  /<b58 digest>/<space DID>  (LevelDB)
//	          claim/  /<CID>; receipt/  /receipts/<CID>, /ranLinkIndex/<ran> = CID bytes
//	          consolidation/  /<batch CID>
//	          egress_tracker/journal/egress.<batch CID>.car, egress.car.wip
//	S3:       <prefix>pdp  <shard>/<b32>.data
//	          <prefix>allocations, <prefix>acceptances  <b58 digest>/<space DID>.cbor
//	          <prefix>claims <CID>; <prefix>receipts <CID>, receipts-ran/<ran>.ref = CID string
//	          <prefix>consolidation <batch CID>.cbor
package pirinode

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	flatfs "github.com/ipfs/go-ds-flatfs"
	leveldb "github.com/ipfs/go-ds-leveldb"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/minio/minio-go/v7"
	"github.com/multiformats/go-multibase"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/internal/testsupport/fixtures"
)

// Store names: a data dir's LevelDB directory, an S3 bucket's suffix.
const (
	Allocations   = "allocation"
	Acceptances   = "acceptance"
	Claims        = "claim"
	Receipts      = "receipt"
	Consolidation = "consolidation"
)

// Writer writes one node's store.
type Writer struct {
	t       testing.TB
	dataDir string                        // a data dir, or
	dbs     map[string]*leveldb.Datastore // its open LevelDBs
	s3      *minio.Client                 // S3
	prefix  string                        // its bucket prefix
	made    map[string]bool               // buckets made
	ctx     context.Context
}

// DataDir writes a Piri data dir in dir. Close before reading it.
func DataDir(t testing.TB, dir string) *Writer {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "pdp"), 0o755); err != nil {
		t.Fatal(err)
	}
	fs, err := flatfs.CreateOrOpen(filepath.Join(dir, "pdp", "datastore"), flatfs.NextToLast(2), false)
	if err != nil {
		t.Fatal(err)
	}
	fs.Close()
	return &Writer{t: t, dataDir: dir, dbs: map[string]*leveldb.Datastore{}, ctx: context.Background()}
}

// S3 writes a node's buckets, prefix + pdp …, making them as needed.
func S3(t testing.TB, client *minio.Client, prefix string) *Writer {
	return &Writer{t: t, s3: client, prefix: prefix, made: map[string]bool{}, ctx: context.Background()}
}

// Close releases the LevelDBs.
func (w *Writer) Close() {
	for name, db := range w.dbs {
		if err := db.Close(); err != nil {
			w.t.Errorf("close %s: %v", name, err)
		}
	}
	w.dbs = nil
}

// IsS3 says which layout this writer writes.
func (w *Writer) IsS3() bool { return w.s3 != nil }

// put writes value under key in a record store; key is the data dir's
// datastore key (leading "/"), or the S3 key.
func (w *Writer) put(store, key string, value []byte) {
	w.t.Helper()
	if w.s3 != nil {
		bucket := w.prefix + map[string]string{Allocations: "allocations", Acceptances: "acceptances", Claims: "claims",
			Receipts: "receipts", Consolidation: "consolidation", "pdp": "pdp"}[store]
		if !w.made[bucket] {
			if err := w.s3.MakeBucket(w.ctx, bucket, minio.MakeBucketOptions{}); err != nil {
				if ok, _ := w.s3.BucketExists(w.ctx, bucket); !ok {
					w.t.Fatalf("make bucket %s: %v", bucket, err)
				}
			}
			w.made[bucket] = true
		}
		if _, err := w.s3.PutObject(w.ctx, bucket, key, bytes.NewReader(value), int64(len(value)), minio.PutObjectOptions{}); err != nil {
			w.t.Fatalf("put %s/%s: %v", bucket, key, err)
		}
		return
	}
	db := w.dbs[store]
	if db == nil {
		var err error
		if db, err = leveldb.NewDatastore(filepath.Join(w.dataDir, store), nil); err != nil {
			w.t.Fatal(err)
		}
		w.dbs[store] = db
	}
	if err := db.Put(w.ctx, datastore.NewKey(key), value); err != nil {
		w.t.Fatal(err)
	}
}

// B32 is a blob's name: multibase base32 of the multihash, without the
// leading "b".
func B32(d mh.Multihash) string {
	s, _ := multibase.Encode(multibase.Base32, d)
	return s[1:]
}

// B58 is a digest as Piri's record keys write it: multibase base58btc,
// with its "z".
func B58(d mh.Multihash) string {
	s, _ := multibase.Encode(multibase.Base58BTC, d)
	return s
}

// Shard is flatfs' next-to-last/2 of a name.
func Shard(name string) string { return name[len(name)-3 : len(name)-1] }

// Digest is the sha2-256 multihash of data.
func Digest(data []byte) mh.Multihash {
	d, _ := mh.Sum(data, mh.SHA2_256, -1)
	return d
}

// Blob stores data under its own name and returns the name.
func (w *Writer) Blob(data []byte) string {
	name := B32(Digest(data))
	w.BlobAt(name, data)
	return name
}

// BlobAt stores bytes under the v0.2.4 key of name, whatever they hash to.
func (w *Writer) BlobAt(name string, data []byte) {
	w.t.Helper()
	if w.s3 != nil {
		w.put("pdp", Shard(name)+"/"+name+".data", data)
		return
	}
	dir := filepath.Join(w.dataDir, "pdp", "datastore", Shard(name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".data"), data, 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// LegacyBlob stores data under Piri v0.2.3's bare S3 key.
func (w *Writer) LegacyBlob(data []byte) string {
	name := B32(Digest(data))
	w.put("pdp", name, data)
	return name
}

// SpaceDID is a did:key for an ed25519 key made from seed, and the bytes
// records hold for it.
func SpaceDID(seed byte) (string, []byte) {
	pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32)).Public().(ed25519.PublicKey)
	raw := append([]byte{0xed, 0x01}, pub...) // multicodec ed25519-pub
	s, _ := multibase.Encode(multibase.Base58BTC, raw)
	return "did:key:" + s, raw
}

func (w *Writer) cbor(build func(datamodel.MapAssembler)) []byte {
	w.t.Helper()
	n, err := qp.BuildMap(basicnode.Prototype.Any, -1, build)
	if err != nil {
		w.t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dagcbor.Encode(n, &buf); err != nil {
		w.t.Fatal(err)
	}
	return buf.Bytes()
}

// Cause is a dag-cbor CID standing for an invocation.
func Cause(s string) cid.Cid {
	c, _ := cid.V1Builder{Codec: cid.DagCBOR, MhType: mh.SHA2_256}.Sum([]byte(s))
	return c
}

func blobNode(d mh.Multihash, size int64) qp.Assemble {
	return qp.Map(2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "digest", qp.Bytes(d))
		qp.MapEntry(ma, "size", qp.Int(size))
	})
}

func (w *Writer) recordKey(d mh.Multihash, space string) string {
	if w.s3 != nil {
		return B58(d) + "/" + space + ".cbor"
	}
	return "/" + B58(d) + "/" + space
}

// Allocation writes blob/allocate's record: {space, blob{digest, size},
// expires, cause}.
func (w *Writer) Allocation(d mh.Multihash, space int, size, expires int64) {
	did, raw := SpaceDID(byte(space))
	w.put(Allocations, w.recordKey(d, did), w.cbor(func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "space", qp.Bytes(raw))
		qp.MapEntry(ma, "blob", blobNode(d, size))
		qp.MapEntry(ma, "expires", qp.Int(expires))
		qp.MapEntry(ma, "cause", qp.Link(cidlink.Link{Cid: Cause("allocate " + B32(d) + did)}))
	}))
}

// Acceptance writes blob/accept's record: {space, blob{digest, size},
// pdpAccept: {"ucan/await": [".out.ok", link]}, executedAt, cause}.
func (w *Writer) Acceptance(d mh.Multihash, space int, size, executedAt int64) {
	did, raw := SpaceDID(byte(space))
	w.put(Acceptances, w.recordKey(d, did), w.cbor(func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "space", qp.Bytes(raw))
		qp.MapEntry(ma, "blob", blobNode(d, size))
		qp.MapEntry(ma, "pdpAccept", qp.Map(1, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "ucan/await", qp.List(2, func(la datamodel.ListAssembler) {
				qp.ListEntry(la, qp.String(".out.ok"))
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: Cause("pdp/accept " + B32(d))}))
			}))
		}))
		qp.MapEntry(ma, "executedAt", qp.Int(executedAt))
		qp.MapEntry(ma, "cause", qp.Link(cidlink.Link{Cid: Cause("accept " + B32(d) + did)}))
	}))
}

// Stored is a blob written with both its records.
func (w *Writer) Stored(data []byte, space int) string {
	name := w.Blob(data)
	d := Digest(data)
	w.Allocation(d, space, int64(len(data)), 1900000000)
	w.Acceptance(d, space, int64(len(data)), 1764000000)
	return name
}

// Receipt is a real receipt fixture in Piri's receiptstore form, and the
// invocation it ran.
type Receipt struct{ CID, Ran string }

// FixtureReceipts are the generated receipt fixtures (go-ucanto output).
var FixtureReceipts = []Receipt{
	{"bafyreibl67tvjaoqtaavedcy23mttzk6ii7kjrzeyuhs2bukrcbslndg4a", "bafyreibo6nqtvp67daj7dkmeb5c2n6bg5bunxdmxq3lghtp3pmjtzpzfma"},
	{"bafyreiea4yiqedqwx6ys2uohnne3vl5pf3zht2ybvt6yaakr3md2kbhupu", "bafyreigmibhtnn7wsl2ksobgioetqtvyba4lxj4jdp7x74oqzggltjt4ma"},
	{"bafyreigaquodlvxcidxmgjweiynybi2et5n4ipjg7ei7xdbc7jrcarc3d4", "bafyreihb4baaeu3xicylhcnppvrjmcahchzjkhqors2ccxcpd2arin5ili"},
}

// Receipt writes a receipt and its ran-index entry.
func (w *Writer) Receipt(r Receipt) {
	w.ReceiptOnly(r)
	w.RanIndex(r.Ran, r.CID)
}

// ReceiptOnly writes a receipt without its ran-index entry.
func (w *Writer) ReceiptOnly(r Receipt) {
	data := fixtures.Read(w.t, "generated/"+r.CID+".receiptstore.car")
	if w.s3 != nil {
		w.put(Receipts, r.CID, data)
	} else {
		w.put(Receipts, "/receipts/"+r.CID, data)
	}
}

// RanIndex writes a ran-index entry pointing at receipt.
func (w *Writer) RanIndex(ran, receipt string) {
	c, err := cid.Decode(receipt)
	if err != nil {
		w.t.Fatal(err)
	}
	if w.s3 != nil {
		w.put(Receipts, "receipts-ran/"+ran+".ref", []byte(c.String()))
	} else {
		w.put(Receipts, "/ranLinkIndex/"+ran, c.Bytes())
	}
}

// Delegation is a real delegation fixture (archive form) and its UCAN CID.
var Delegation = struct{ File, CID string }{"go-ucanto_delegationnonb.car", "bafyreieftz7fmonhkvak6cibt7c5qewkxbf565jjqcysed5rjes46v2skm"}

// Claim writes the delegation fixture to the claim store, or other bytes
// under its key.
func (w *Writer) Claim(value []byte) {
	if value == nil {
		value = fixtures.Read(w.t, Delegation.File)
	}
	key := "/" + Delegation.CID
	if w.s3 != nil {
		key = Delegation.CID
	}
	w.put(Claims, key, value)
}

// JournalBatch is the generated retrieval-journal batch fixture: Piri's
// fsJournal layout, three receipt archives.
const JournalBatch = "egress.bagbaierahcvt3z72af26e4l4hlxfrdnpvlztoonha754areqp7agtsdqvvwq.car"

// Journal writes the batch fixture, the real empty batch in progress
// from a smelt node, and any extra files, into the data dir's journal.
func (w *Writer) Journal(extra map[string][]byte) {
	w.t.Helper()
	if w.dataDir == "" {
		w.t.Fatal("pirinode: a journal lives in a data dir")
	}
	dir := filepath.Join(w.dataDir, "egress_tracker", "journal")
	files := map[string][]byte{
		JournalBatch:     fixtures.Read(w.t, "generated/"+JournalBatch),
		"egress.car.wip": fixtures.Read(w.t, "smelt_piri-0_egress.car.wip"),
	}
	for k, v := range extra {
		files[k] = v
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
}

// Clean writes a node with nothing wrong: blobs each allocated and
// accepted (two spaces, one blob accepted by both), the fixture
// receipts with their index, the delegation, and, in a data dir, the
// journal. It returns the blob names by space seed.
func (w *Writer) Clean() map[int][]string {
	spaces := map[int][]string{}
	for i := range 3 {
		data := []byte(fmt.Sprintf("blob %d of a clean node", i))
		spaces[1] = append(spaces[1], w.Stored(data, 1))
	}
	shared := []byte("a blob two spaces accepted")
	name := w.Stored(shared, 1)
	spaces[1] = append(spaces[1], name)
	d := Digest(shared)
	w.Allocation(d, 2, int64(len(shared)), 1900000000)
	w.Acceptance(d, 2, int64(len(shared)), 1764000100)
	spaces[2] = append(spaces[2], name)
	for _, r := range FixtureReceipts {
		w.Receipt(r)
	}
	w.Claim(nil)
	if w.dataDir != "" {
		w.Journal(nil)
	}
	return spaces
}

// CauseAllocation writes an allocation as Piri before v0.0.14 keyed it:
// by its cause, "/<b58 digest>/<cause CID>".
func (w *Writer) CauseAllocation(d mh.Multihash, space int, size int64, cause cid.Cid) {
	_, raw := SpaceDID(byte(space))
	key := "/" + B58(d) + "/" + cause.String()
	if w.s3 != nil {
		key = B58(d) + "/" + cause.String() + ".cbor"
	}
	w.put(Allocations, key, w.cbor(func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "space", qp.Bytes(raw))
		qp.MapEntry(ma, "blob", blobNode(d, size))
		qp.MapEntry(ma, "expires", qp.Int(1900000000))
		qp.MapEntry(ma, "cause", qp.Link(cidlink.Link{Cid: cause}))
	}))
}

// SplitConsolidation writes a consolidation as Piri v0.0.15–v0.2.2 did,
// in the journal's LevelDB: "/track/<batch>" (the track invocation's
// archive, the delegation fixture here) and "/consolidate/<batch>" (the
// consolidate invocation's CID, binary).
func (w *Writer) SplitConsolidation(batch, consolidate cid.Cid) {
	w.t.Helper()
	if w.dataDir == "" {
		w.t.Fatal("pirinode: the split form lives in a data dir")
	}
	db, err := leveldb.NewDatastore(filepath.Join(w.dataDir, "egress_tracker", "journal", "consolidation"), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	defer db.Close()
	if err := db.Put(w.ctx, datastore.NewKey("/track/"+batch.String()), fixtures.Read(w.t, Delegation.File)); err != nil {
		w.t.Fatal(err)
	}
	if err := db.Put(w.ctx, datastore.NewKey("/consolidate/"+batch.String()), consolidate.Bytes()); err != nil {
		w.t.Fatal(err)
	}
}

// Keys reads a node's store back the way Piri v0.2.4 would find it,
// sharing no code with storefs: every key (data dir: "<store> <key>",
// with blobs as "pdp <shard>/<b32>.data"; S3: "<bucket suffix> <key>")
// and the sha2-256 of its value.
func Keys(t testing.TB, dataDir string, client *minio.Client, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sum := func(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }
	if client != nil {
		ctx := context.Background()
		for _, suffix := range []string{"pdp", "allocations", "acceptances", "claims", "receipts", "consolidation"} {
			if ok, err := client.BucketExists(ctx, prefix+suffix); err != nil || !ok {
				continue
			}
			for obj := range client.ListObjects(ctx, prefix+suffix, minio.ListObjectsOptions{Recursive: true}) {
				if obj.Err != nil {
					t.Fatalf("list %s: %v", prefix+suffix, obj.Err)
				}
				o, err := client.GetObject(ctx, prefix+suffix, obj.Key, minio.GetObjectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				data, err := io.ReadAll(o)
				o.Close()
				if err != nil {
					t.Fatal(err)
				}
				out[suffix+" "+obj.Key] = sum(data)
			}
		}
		return out
	}
	blobs := filepath.Join(dataDir, "pdp", "datastore")
	filepath.WalkDir(blobs, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".data") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(blobs, path)
		out["pdp "+rel] = sum(data)
		return nil
	})
	for _, store := range []string{Allocations, Acceptances, Claims, Receipts, Consolidation} {
		if _, err := os.Stat(filepath.Join(dataDir, store)); err != nil {
			continue
		}
		db, err := leveldb.NewDatastore(filepath.Join(dataDir, store), &leveldb.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		res, err := db.Query(context.Background(), query.Query{})
		if err != nil {
			t.Fatal(err)
		}
		for e := range res.Next() {
			if e.Error != nil {
				t.Fatal(e.Error)
			}
			out[store+" "+e.Key] = sum(e.Value)
		}
		res.Close()
		db.Close()
	}
	return out
}
