// Package retrievaljournal reads Piri's retrieval journal: egress batches on
// disk, each a CARv1 with no roots whose sections are receipt archives
// (section CID = CIDv1(car, sha2-256(archive))). Finished batches are
// "egress.<batch CID>.car" (batch CID = CIDv1(car, sha2-256(file)));
// the batch being written is "egress.car.wip", which Piri appends to
// while we read. The view is read-only.
//
// Layout read from Piri v0.2.4 pkg/store/retrievaljournal/fsjournal.go.
package retrievaljournal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-ipld-prime/datamodel"
	mh "github.com/multiformats/go-multihash"
	"github.com/multiformats/go-varint"

	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/ucan"
)

// Dir is the journal's directory inside a data_dir.
var Dir = filepath.Join("egress_tracker", "journal")

// WIP is the batch being written.
const WIP = "egress.car.wip"

// ErrCorrupt is matched by a batch or a section that does not decode.
var ErrCorrupt = errors.New("retrieval journal batch does not decode")

// Journal is a journal directory.
type Journal struct{ dir string }

// Open opens the journal in dir.
func Open(dir string) (*Journal, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("retrieval journal: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("retrieval journal %s: not a directory", dir)
	}
	return &Journal{dir: dir}, nil
}

// Batch names one batch file.
type Batch struct {
	Name    string  // file name
	CID     cid.Cid // cid.Undef for the work-in-progress batch
	Size    int64
	ModTime time.Time
}

// IsWIP says whether this is the batch being written.
func (b Batch) IsWIP() bool { return b.Name == WIP }

// Batches lists the batch files, finished ones in name order, then the
// work in progress. Anything else in the directory (the old
// consolidation LevelDB, stray files) is not a batch.
func (j *Journal) Batches() ([]Batch, error) {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, fmt.Errorf("retrieval journal: %w", err)
	}
	var out []Batch
	var wip *Batch
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		name := e.Name()
		if name == WIP {
			wip = &Batch{Name: name, Size: info.Size(), ModTime: info.ModTime()}
			continue
		}
		if c, ok := BatchCID(name); ok {
			out = append(out, Batch{Name: name, CID: c, Size: info.Size(), ModTime: info.ModTime()})
		}
	}
	slices.SortFunc(out, func(a, b Batch) int { return strings.Compare(a.Name, b.Name) })
	if wip != nil {
		out = append(out, *wip)
	}
	return out, nil
}

// BatchCID reads the batch CID in a finished batch's file name.
func BatchCID(name string) (cid.Cid, bool) {
	s, ok := strings.CutPrefix(name, "egress.")
	if !ok {
		return cid.Undef, false
	}
	s, ok = strings.CutSuffix(s, ".car")
	if !ok {
		return cid.Undef, false
	}
	c, err := cid.Decode(s)
	if err != nil || c.String() != s {
		return cid.Undef, false
	}
	return c, true
}

// Batch finds a batch by file name.
func (j *Journal) Batch(name string) (Batch, error) {
	if name != WIP {
		if _, ok := BatchCID(name); !ok {
			return Batch{}, fmt.Errorf("retrieval journal: %q is not a batch name: %w", name, os.ErrNotExist)
		}
	}
	fi, err := os.Stat(filepath.Join(j.dir, name))
	if err != nil {
		return Batch{}, fmt.Errorf("retrieval journal: %w", err)
	}
	c, _ := BatchCID(name)
	return Batch{Name: name, CID: c, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Path is where a batch's file is.
func (j *Journal) Path(b Batch) string { return filepath.Join(j.dir, b.Name) }

// Read returns a batch's bytes. A finished batch is read whole. The
// batch being written is cut after its last whole section: Piri appends
// to it while we read, and a reader must never see a torn section.
func (j *Journal) Read(b Batch) ([]byte, error) {
	data, err := os.ReadFile(j.Path(b))
	if err != nil {
		return nil, fmt.Errorf("retrieval journal: %w", err)
	}
	if !b.IsWIP() {
		if len(data) == 0 {
			return nil, fmt.Errorf("%w: %s is empty", ErrCorrupt, b.Name)
		}
		return data, nil
	}
	return data[:wholeSections(data)], nil
}

// wholeSections is the length of the longest prefix of a CARv1 that ends
// at a section boundary (0 when even the header is not whole).
func wholeSections(data []byte) int {
	end := 0
	for off := 0; off < len(data); {
		n, l, err := varint.FromUvarint(data[off:])
		if err != nil || n == 0 || uint64(len(data)-off-l) < n {
			break
		}
		off += l + int(n)
		end = off
	}
	return end
}

// Entry is one retrieval receipt of a batch, with what it says of the
// retrieval: whose space, which blob, which bytes.
type Entry struct {
	Archive cid.Cid // the section CID: CIDv1(car, sha2-256(archive))
	Receipt *ucan.Receipt
	// From the invocation, when the archive holds it.
	Can   string
	Space string       // the capability's subject (with)
	Blob  mh.Multihash // nb.blob.digest; nil when absent
	Range *[2]uint64   // nb.range, inclusive; nil when absent
}

// Bytes is how many bytes the retrieval served: its range, when it
// succeeded and names one.
func (e Entry) Bytes() uint64 {
	if e.Range == nil || e.Receipt.Ok == nil || e.Range[1] < e.Range[0] {
		return 0
	}
	return e.Range[1] - e.Range[0] + 1
}

// Entries decodes a batch's bytes (as Read returns them: none for a
// batch in progress that has no header yet), in file order. Every error matches ErrCorrupt and ends the listing: a batch is
// bytes Piri will send as a whole.
func Entries(data []byte) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		for s, err := range sections(data) {
			if err != nil {
				yield(Entry{}, err)
				return
			}
			r, err := ucan.DecodeReceiptArchive(s.Data)
			if err != nil {
				yield(Entry{}, fmt.Errorf("%w: section %s: %v", ErrCorrupt, s.CID, err))
				return
			}
			e := Entry{Archive: s.CID, Receipt: r}
			if err := e.retrieval(); err != nil {
				yield(Entry{}, fmt.Errorf("%w: section %s: %v", ErrCorrupt, s.CID, err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// retrieval reads the space/content/retrieve caveats of the invocation:
// {blob: {digest}, range: [first, last]} (a map {start, end} is read too).
func (e *Entry) retrieval() error {
	inv := e.Receipt.Invocation
	if inv == nil || len(inv.Capabilities) == 0 {
		return nil
	}
	c := inv.Capabilities[0]
	e.Can, e.Space = c.Can, c.With
	if c.Nb == nil || c.Nb.Kind() != datamodel.Kind_Map {
		return nil
	}
	if blob, err := ipldutil.Field(c.Nb, "blob"); err == nil && blob != nil && blob.Kind() == datamodel.Kind_Map {
		d, err := ipldutil.Bytes(blob, "digest")
		if err != nil {
			return fmt.Errorf("nb.blob: %w", err)
		}
		if e.Blob, err = mh.Cast(d); err != nil {
			return fmt.Errorf("nb.blob.digest: %w", err)
		}
	}
	rng, err := ipldutil.Field(c.Nb, "range")
	if err != nil || rng == nil || rng.IsNull() {
		return err
	}
	var first, last datamodel.Node
	switch rng.Kind() {
	case datamodel.Kind_List:
		if rng.Length() != 2 {
			return fmt.Errorf("nb.range: want [first, last]")
		}
		first, _ = rng.LookupByIndex(0)
		last, _ = rng.LookupByIndex(1)
	case datamodel.Kind_Map:
		first, _ = rng.LookupByString("start")
		last, _ = rng.LookupByString("end")
	}
	if first == nil || last == nil {
		return fmt.Errorf("nb.range: want [first, last]")
	}
	a, err1 := first.AsInt()
	b, err2 := last.AsInt()
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return fmt.Errorf("nb.range: want two non-negative integers")
	}
	e.Range = &[2]uint64{uint64(a), uint64(b)}
	return nil
}

// sections reads a CARv1 with no roots section by section (go-car,
// every section's bytes checked against its CID), as Piri writes them.
func sections(data []byte) iter.Seq2[ipldutil.Block, error] {
	return func(yield func(ipldutil.Block, error) bool) {
		if len(data) == 0 { // a batch in progress not yet begun
			return
		}
		br, err := car.NewBlockReader(bytes.NewReader(data), car.WithTrustedCAR(false), car.MaxAllowedSectionSize(maxSection))
		if err != nil {
			yield(ipldutil.Block{}, fmt.Errorf("%w: %v", ErrCorrupt, err))
			return
		}
		if br.Version != 1 || len(br.Roots) != 0 {
			yield(ipldutil.Block{}, fmt.Errorf("%w: header: want a CARv1 with no roots", ErrCorrupt))
			return
		}
		for {
			b, err := br.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(ipldutil.Block{}, fmt.Errorf("%w: %v", ErrCorrupt, err))
				return
			}
			if b.Cid().Prefix().Codec != carCodec {
				yield(ipldutil.Block{}, fmt.Errorf("%w: section %s: not a receipt archive's CID", ErrCorrupt, b.Cid()))
				return
			}
			if !yield(ipldutil.Block{CID: b.Cid(), Data: b.RawData()}, nil) {
				return
			}
		}
	}
}

// maxSection bounds one section (a receipt archive: KB sized).
const maxSection = 64 << 20

// carCodec is the multicodec of a CAR file (section and batch CIDs).
const carCodec = 0x0202

// EncodeBatch writes receipts as a batch file, as Piri's journal does, and
// returns its bytes and batch CID (its name is "egress.<CID>.car").
func EncodeBatch(receipts []*ucan.Receipt) ([]byte, cid.Cid, error) {
	sections := make([]ipldutil.Block, 0, len(receipts))
	for _, r := range receipts {
		archive, err := ucan.EncodeReceiptArchive(r)
		if err != nil {
			return nil, cid.Undef, err
		}
		sections = append(sections, ipldutil.Block{CID: carCID(archive), Data: archive})
	}
	data, err := ucan.WriteCAR(nil, sections)
	if err != nil {
		return nil, cid.Undef, err
	}
	return data, carCID(data), nil
}

// BatchName is the file name Piri gives a finished batch of these bytes.
func BatchName(data []byte) string { return "egress." + carCID(data).String() + ".car" }

func carCID(data []byte) cid.Cid {
	c, _ := cid.Prefix{Version: 1, Codec: carCodec, MhType: mh.SHA2_256, MhLength: -1}.Sum(data)
	return c
}
