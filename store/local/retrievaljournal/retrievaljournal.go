// Package retrievaljournal reads Piri's retrieval journal: egress batches on
// disk, each a CARv1 with no roots whose sections are receipt archives
// (section CID = CIDv1(car, sha2-256(archive))). Finished batches are
// "egress.<batch CID>.car"; the batch being written is "egress.car.wip".
// The view is read-only.
package retrievaljournal

import (
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/ipldutil"
	"github.com/storacha/storefs/store/ucan"
)

// Dir is the journal's directory inside a data_dir.
var Dir = filepath.Join("egress_tracker", "journal")

// WIP is the batch being written.
const WIP = "egress.car.wip"

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
	Name string  // file name
	CID  cid.Cid // cid.Undef for the work-in-progress batch
	Size int64
}

// Batches lists the batch files, finished ones in name order, then the
// work in progress.
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
			wip = &Batch{Name: name, Size: info.Size()}
			continue
		}
		s, ok := strings.CutPrefix(name, "egress.")
		if s, ok2 := strings.CutSuffix(s, ".car"); ok && ok2 {
			if c, err := cid.Decode(s); err == nil {
				out = append(out, Batch{Name: name, CID: c, Size: info.Size()})
			}
		}
	}
	slices.SortFunc(out, func(a, b Batch) int { return strings.Compare(a.Name, b.Name) })
	if wip != nil {
		out = append(out, *wip)
	}
	return out, nil
}

// Receipts decodes every receipt in a batch, in file order.
func (j *Journal) Receipts(b Batch) iter.Seq2[*ucan.Receipt, error] {
	return func(yield func(*ucan.Receipt, error) bool) {
		data, err := os.ReadFile(filepath.Join(j.dir, b.Name))
		if err != nil {
			yield(nil, fmt.Errorf("retrieval journal: %w", err))
			return
		}
		sections, err := ucan.ReadCARSections(data)
		if err != nil {
			yield(nil, fmt.Errorf("retrieval journal %s: %w", b.Name, err))
			return
		}
		for _, s := range sections {
			r, err := ucan.DecodeReceiptArchive(s.Data)
			if err != nil {
				err = fmt.Errorf("retrieval journal %s: section %s: %w", b.Name, s.CID, err)
			}
			if !yield(r, err) {
				return
			}
		}
	}
}

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

func carCID(data []byte) cid.Cid {
	c, _ := cid.Prefix{Version: 1, Codec: carCodec, MhType: mh.SHA2_256, MhLength: -1}.Sum(data)
	return c
}
