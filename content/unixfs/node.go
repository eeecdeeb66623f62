// Package unixfs reads UnixFS (the file format of IPFS and Storacha
// uploads) from blocks a Blocks gives: files (balanced and trickle DAGs,
// dag-pb and raw leaves), plain and HAMT-sharded directories, symlinks,
// identity CIDs. It decodes dag-pb with go-codec-dagpb and the UnixFS
// Data message with protowire; it shares no code with the importers that
// write UnixFS (boxo's, the JS client's), so it checks them, not itself.
//
// Every error from malformed input wraps ErrBad: a block that does not
// decode, a HAMT with a wrong fanout or hash, a DAG nested past MaxDepth,
// links whose sizes disagree with the blocks they name.
package unixfs

import (
	"context"
	"errors"
	"fmt"
	"math/bits"

	"github.com/ipfs/go-cid"
	dagpb "github.com/ipld/go-codec-dagpb"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/multiformats/go-multicodec"
	"google.golang.org/protobuf/encoding/protowire"
)

// Blocks gives blocks' bytes, each checked against its CID.
type Blocks interface {
	Block(ctx context.Context, c cid.Cid) ([]byte, error)
}

var (
	// ErrBad is matched by every error of malformed UnixFS.
	ErrBad = errors.New("malformed UnixFS")
	// ErrNotUnixFS: the CID's codec is neither dag-pb nor raw.
	ErrNotUnixFS = errors.New("not UnixFS")
	// ErrNotDir: a path goes through a file or symlink.
	ErrNotDir = errors.New("not a directory")
	// ErrNotFound: a directory has no entry of the name.
	ErrNotFound = errors.New("no such entry")
)

// MaxDepth bounds how deep a DAG is followed: a file of 1 MiB leaves
// and 174 links a node reaches exabytes in 8 levels; deeper is a DAG
// made to exhaust a reader.
const MaxDepth = 64

// Kind is what a node is.
type Kind int

const (
	KindFile Kind = iota
	KindDir
	KindHAMT
	KindSymlink
)

func (k Kind) String() string {
	return [...]string{"file", "directory", "HAMT directory", "symlink"}[k]
}

// UnixFS Data types (unixfs.proto).
const (
	typeRaw       = 0
	typeDirectory = 1
	typeFile      = 2
	typeMetadata  = 3
	typeSymlink   = 4
	typeHAMTShard = 5
)

// murmur3x64 is the HAMT hash function's multicodec code.
const murmur3x64 = 0x22

// Link is one link of a dag-pb node.
type Link struct {
	Name  string
	CID   cid.Cid
	Tsize uint64 // the size of the DAG under it, as its writer said
}

// Node is one decoded block.
type Node struct {
	CID  cid.Cid
	Kind Kind
	// Size is a file's length in bytes (a symlink's: its target's).
	Size uint64
	// Data is a file node's own bytes (a raw leaf's: the block), a
	// symlink's target.
	Data []byte
	// Links, and for a file the length under each (blocksizes).
	Links  []Link
	Sizes  []uint64
	fanout uint64 // HAMT
}

// RawLeaf is the file of a raw block of size bytes, not read yet: its
// bytes are fetched (and checked) when the file is read. A lookup that
// knows the size elsewhere (the catalogue) keeps no leaf in memory.
func RawLeaf(c cid.Cid, size uint64) *Node {
	return &Node{CID: c, Kind: KindFile, Size: size}
}

// Decode decodes the block of c.
func Decode(c cid.Cid, block []byte) (*Node, error) {
	switch multicodec.Code(c.Type()) {
	case multicodec.Raw:
		return &Node{CID: c, Kind: KindFile, Size: uint64(len(block)), Data: block}, nil
	case multicodec.DagPb:
	default:
		return nil, fmt.Errorf("%s: %w (codec %s)", c, ErrNotUnixFS, multicodec.Code(c.Type()))
	}
	nb := dagpb.Type.PBNode.NewBuilder()
	if err := dagpb.DecodeBytes(nb, block); err != nil {
		return nil, fmt.Errorf("%s: %w: dag-pb: %v", c, ErrBad, err)
	}
	pb := nb.Build().(dagpb.PBNode)
	n := &Node{CID: c}
	it := pb.FieldLinks().Iterator()
	for !it.Done() {
		_, l := it.Next()
		cl, ok := l.FieldHash().Link().(cidlink.Link)
		if !ok {
			return nil, fmt.Errorf("%s: %w: a link that is no CID", c, ErrBad)
		}
		link := Link{CID: cl.Cid}
		if l.FieldName().Exists() {
			link.Name = l.FieldName().Must().String()
		}
		if l.FieldTsize().Exists() {
			link.Tsize = uint64(l.FieldTsize().Must().Int())
		}
		n.Links = append(n.Links, link)
	}
	if !pb.FieldData().Exists() {
		return nil, fmt.Errorf("%s: %w: a dag-pb node with no UnixFS data", c, ErrBad)
	}
	d, err := decodeData(pb.FieldData().Must().Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", c, ErrBad, err)
	}
	switch d.typ {
	case typeRaw, typeFile:
		n.Kind, n.Data, n.Sizes = KindFile, d.data, d.blocksizes
		if len(n.Sizes) != len(n.Links) {
			return nil, fmt.Errorf("%s: %w: %d links and %d block sizes", c, ErrBad, len(n.Links), len(n.Sizes))
		}
		n.Size = uint64(len(n.Data))
		for _, s := range n.Sizes {
			if n.Size+s < n.Size {
				return nil, fmt.Errorf("%s: %w: block sizes overflow", c, ErrBad)
			}
			n.Size += s
		}
		if d.hasFilesize && d.filesize != n.Size {
			return nil, fmt.Errorf("%s: %w: file size %d, its data and blocks add up to %d", c, ErrBad, d.filesize, n.Size)
		}
	case typeDirectory:
		n.Kind = KindDir
	case typeHAMTShard:
		if d.hashType != murmur3x64 {
			return nil, fmt.Errorf("%s: %w: HAMT hash %#x, not murmur3-x64-64", c, ErrBad, d.hashType)
		}
		if d.fanout < 2 || d.fanout > 1024 || bits.OnesCount64(d.fanout) != 1 {
			return nil, fmt.Errorf("%s: %w: HAMT fanout %d, not a power of two up to 1024", c, ErrBad, d.fanout)
		}
		n.Kind, n.fanout = KindHAMT, d.fanout
	case typeSymlink:
		n.Kind, n.Data, n.Size = KindSymlink, d.data, uint64(len(d.data))
	default:
		return nil, fmt.Errorf("%s: %w: UnixFS type %d", c, ErrBad, d.typ)
	}
	return n, nil
}

// data is the UnixFS Data message.
type data struct {
	typ         uint64
	data        []byte
	filesize    uint64
	hasFilesize bool
	blocksizes  []uint64
	hashType    uint64
	fanout      uint64
	hasType     bool
}

func decodeData(b []byte) (data, error) {
	var d data
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return d, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case typ == protowire.VarintType && (num == 1 || num == 3 || num == 4 || num == 5 || num == 6):
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return d, protowire.ParseError(n)
			}
			b = b[n:]
			switch num {
			case 1:
				d.typ, d.hasType = v, true
			case 3:
				d.filesize, d.hasFilesize = v, true
			case 4:
				d.blocksizes = append(d.blocksizes, v)
			case 5:
				d.hashType = v
			case 6:
				d.fanout = v
			}
		case typ == protowire.BytesType && num == 4: // packed blocksizes
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return d, protowire.ParseError(n)
			}
			b = b[n:]
			for len(v) > 0 {
				s, n := protowire.ConsumeVarint(v)
				if n < 0 {
					return d, protowire.ParseError(n)
				}
				d.blocksizes, v = append(d.blocksizes, s), v[n:]
			}
		case typ == protowire.BytesType && num == 2:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return d, protowire.ParseError(n)
			}
			d.data, b = v, b[n:]
		default: // mode, mtime, fields to come: skipped
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return d, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	if !d.hasType {
		return d, errors.New("UnixFS data without a type")
	}
	if d.typ == typeMetadata {
		return d, errors.New("UnixFS metadata nodes are not read")
	}
	return d, nil
}
