package unixfs

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/spaolacci/murmur3"
)

// Load fetches and decodes the block of c. An identity CID carries its
// block in itself and is fetched from nowhere.
func Load(ctx context.Context, g Blocks, c cid.Cid) (*Node, error) {
	var block []byte
	if c.Prefix().MhType == mh.IDENTITY {
		d, err := mh.Decode(c.Hash())
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %v", c, ErrBad, err)
		}
		block = d.Digest
	} else {
		var err error
		if block, err = g.Block(ctx, c); err != nil {
			return nil, err
		}
	}
	return Decode(c, block)
}

// Entry is one entry of a directory.
type Entry struct {
	Name  string
	CID   cid.Cid
	Tsize uint64
}

// List yields a directory's entries: a plain directory's in link order,
// a HAMT's in the order of its slots (loading its shard nodes, never its
// entries' own blocks).
func List(ctx context.Context, g Blocks, n *Node, yield func(Entry) bool) error {
	switch n.Kind {
	case KindDir:
		for _, l := range n.Links {
			if !yield(Entry(l)) {
				return nil
			}
		}
		return nil
	case KindHAMT:
		_, err := listHAMT(ctx, g, n, 0, yield)
		return err
	}
	return fmt.Errorf("%s: %w", n.CID, ErrNotDir)
}

func listHAMT(ctx context.Context, g Blocks, n *Node, depth int, yield func(Entry) bool) (bool, error) {
	if depth > MaxDepth {
		return false, fmt.Errorf("%s: %w: a HAMT nested past %d levels", n.CID, ErrBad, MaxDepth)
	}
	pad := padLen(n.fanout)
	for _, l := range n.Links {
		if _, err := slotOf(l.Name, pad, n.fanout); err != nil {
			return false, fmt.Errorf("%s: %w: %v", n.CID, ErrBad, err)
		}
		if len(l.Name) > pad {
			if !yield(Entry{Name: l.Name[pad:], CID: l.CID, Tsize: l.Tsize}) {
				return false, nil
			}
			continue
		}
		child, err := loadShard(ctx, g, n, l)
		if err != nil {
			return false, err
		}
		if more, err := listHAMT(ctx, g, child, depth+1, yield); !more || err != nil {
			return false, err
		}
	}
	return true, nil
}

// Lookup is the entry of a directory named name.
func Lookup(ctx context.Context, g Blocks, n *Node, name string) (Entry, error) {
	switch n.Kind {
	case KindDir:
		for _, l := range n.Links {
			if l.Name == name {
				return Entry(l), nil
			}
		}
		return Entry{}, fmt.Errorf("%q: %w", name, ErrNotFound)
	case KindHAMT:
		return lookupHAMT(ctx, g, n, name)
	}
	return Entry{}, fmt.Errorf("%s: %w", n.CID, ErrNotDir)
}

// lookupHAMT walks the shards by the name's hash: each level takes the
// next log2(fanout) bits of murmur3-x64-64(name), most significant first,
// and a link named by that slot in hex is either the entry (the slot,
// then the name) or the next shard (the slot alone).
func lookupHAMT(ctx context.Context, g Blocks, n *Node, name string) (Entry, error) {
	h := murmur3.New64()
	h.Write([]byte(name))
	hash := h.Sum64()
	used := 0
	for depth := 0; ; depth++ {
		width := log2(n.fanout)
		if used+width > 64 || depth > MaxDepth {
			return Entry{}, fmt.Errorf("%s: %w: a HAMT deeper than its hash", n.CID, ErrBad)
		}
		slot := (hash << used) >> (64 - width)
		used += width
		pad := padLen(n.fanout)
		var next *Link
		for i, l := range n.Links {
			s, err := slotOf(l.Name, pad, n.fanout)
			if err != nil {
				return Entry{}, fmt.Errorf("%s: %w: %v", n.CID, ErrBad, err)
			}
			if s != slot {
				continue
			}
			if len(l.Name) == pad {
				next = &n.Links[i]
				break
			}
			if l.Name[pad:] == name {
				return Entry{Name: name, CID: l.CID, Tsize: l.Tsize}, nil
			}
		}
		if next == nil {
			return Entry{}, fmt.Errorf("%q: %w", name, ErrNotFound)
		}
		child, err := loadShard(ctx, g, n, *next)
		if err != nil {
			return Entry{}, err
		}
		n = child
	}
}

func loadShard(ctx context.Context, g Blocks, parent *Node, l Link) (*Node, error) {
	child, err := Load(ctx, g, l.CID)
	if err != nil {
		return nil, err
	}
	if child.Kind != KindHAMT {
		return nil, fmt.Errorf("%s: %w: HAMT shard link %q names a %s", parent.CID, ErrBad, l.Name, child.Kind)
	}
	return child, nil
}

// padLen is how many hex digits name a slot: those of fanout-1.
func padLen(fanout uint64) int { return len(strconv.FormatUint(fanout-1, 16)) }

func log2(fanout uint64) int {
	w := 0
	for fanout > 1 {
		fanout >>= 1
		w++
	}
	return w
}

// slotOf reads the slot a HAMT link name starts with (upper-case hex).
func slotOf(name string, pad int, fanout uint64) (uint64, error) {
	if len(name) < pad || strings.ToUpper(name[:pad]) != name[:pad] {
		return 0, fmt.Errorf("HAMT link name %q: no slot prefix", name)
	}
	s, err := strconv.ParseUint(name[:pad], 16, 64)
	if err != nil || s >= fanout {
		return 0, fmt.Errorf("HAMT link name %q: slot out of range", name)
	}
	return s, nil
}

// Resolve follows path (names between slashes) from the node of root.
func Resolve(ctx context.Context, g Blocks, root cid.Cid, path []string) (*Node, error) {
	n, err := Load(ctx, g, root)
	if err != nil {
		return nil, err
	}
	for i, name := range path {
		if n.Kind != KindDir && n.Kind != KindHAMT {
			return nil, fmt.Errorf("%s: %w", strings.Join(path[:i], "/"), ErrNotDir)
		}
		e, err := Lookup(ctx, g, n, name)
		if err != nil {
			return nil, err
		}
		if n, err = Load(ctx, g, e.CID); err != nil {
			return nil, err
		}
	}
	return n, nil
}
