// Package uploads makes Storacha uploads the way its clients do, for
// tests, with none of storefs's own code: UnixFS DAGs built with boxo's
// importer (balanced files, raw leaves, plain and HAMT-sharded
// directories, symlinks), packed into shards as the JS client
// (@storacha/upload-client) or guppy pack them, with the sharded DAG
// index blobs over them. storefs reads UnixFS with another library.
package uploads

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	mdtest "github.com/ipfs/boxo/ipld/merkledag/test"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/hamt"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/boxo/ipld/unixfs/importer/trickle"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Entry is a file of an upload: its path (with "/" between directories)
// and bytes, or a symlink's target.
type Entry struct {
	Path    string
	Data    []byte
	Symlink string
}

// Options shape the DAG.
type Options struct {
	// Chunk is the leaf size: 1 MiB as the JS client and guppy write.
	Chunk int64
	// MaxLinks per internal node: 174 (boxo's default; 1024 in the JS
	// client).
	MaxLinks int
	// Trickle lays files out as trickle DAGs instead of balanced ones.
	Trickle bool
	// HAMTAbove shards a directory of more entries than this (0: none).
	HAMTAbove int
	// PBLeaves makes leaves dag-pb nodes (UnixFS File with data), as
	// older clients did, instead of raw blocks.
	PBLeaves bool
}

// Block is one block of a DAG.
type Block struct {
	CID  cid.Cid
	Data []byte
}

// DAG is an imported tree: its root, and its blocks in the order a
// client streams them (children before parents, the root last).
type DAG struct {
	Root   cid.Cid
	Blocks []Block
	// Files are the files' roots by path (directories too).
	Files map[string]cid.Cid
}

// Import builds the DAG of entries under one root directory.
func Import(entries []Entry, o Options) (*DAG, error) {
	if o.Chunk == 0 {
		o.Chunk = 1 << 20
	}
	if o.MaxLinks == 0 {
		o.MaxLinks = helpers.DefaultLinksPerBlock
	}
	ctx := context.Background()
	ds := mdtest.Mock()
	prefix := merkledag.V1CidPrefix()
	files := map[string]cid.Cid{}
	children := map[string][]string{"": nil} // directory → its entries' paths
	nodes := map[string]ipld.Node{}
	for _, e := range entries {
		var n ipld.Node
		var err error
		switch {
		case e.Symlink != "":
			var data []byte
			if data, err = ft.SymlinkData(e.Symlink); err == nil {
				pn := merkledag.NodeWithData(data)
				pn.SetCidBuilder(prefix)
				n, err = pn, ds.Add(ctx, pn)
			}
		default:
			p := helpers.DagBuilderParams{Dagserv: ds, RawLeaves: !o.PBLeaves, Maxlinks: o.MaxLinks, CidBuilder: prefix}
			var db *helpers.DagBuilderHelper
			if db, err = p.New(chunker.NewSizeSplitter(bytes.NewReader(e.Data), o.Chunk)); err == nil {
				if o.Trickle {
					n, err = trickle.Layout(db)
				} else {
					n, err = balanced.Layout(db)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", e.Path, err)
		}
		nodes[e.Path] = n
		files[e.Path] = n.Cid()
		for p := e.Path; p != ""; {
			dir := path.Dir(p)
			if dir == "." {
				dir = ""
			}
			if !slices.Contains(children[dir], p) {
				children[dir] = append(children[dir], p)
			}
			if _, seen := children[p]; !seen && p != e.Path {
				children[p] = nil
			}
			p = dir
		}
	}
	// Directories, deepest first.
	var dirs []string
	for d := range children {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool {
		return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") || dirs[j] == "" && dirs[i] != ""
	})
	for _, d := range dirs {
		if _, isFile := nodes[d]; isFile && d != "" {
			continue
		}
		kids := children[d]
		var n ipld.Node
		var err error
		if o.HAMTAbove > 0 && len(kids) > o.HAMTAbove {
			n, err = hamtDir(ctx, ds, prefix, kids, nodes)
		} else {
			n, err = basicDir(ctx, ds, prefix, kids, nodes)
		}
		if err != nil {
			return nil, fmt.Errorf("directory %q: %w", d, err)
		}
		if err := ds.Add(ctx, n); err != nil {
			return nil, err
		}
		nodes[d], files[d] = n, n.Cid()
	}
	root := nodes[""]
	dag := &DAG{Root: root.Cid(), Files: files}
	seen := map[cid.Cid]bool{}
	var walk func(c cid.Cid) error
	walk = func(c cid.Cid) error {
		if seen[c] {
			return nil
		}
		seen[c] = true
		n, err := ds.Get(ctx, c)
		if err != nil {
			return err
		}
		for _, l := range n.Links() {
			if err := walk(l.Cid); err != nil {
				return err
			}
		}
		dag.Blocks = append(dag.Blocks, Block{CID: c, Data: n.RawData()})
		return nil
	}
	if err := walk(dag.Root); err != nil {
		return nil, err
	}
	return dag, nil
}

func basicDir(ctx context.Context, ds ipld.DAGService, prefix cid.Prefix, kids []string, nodes map[string]ipld.Node) (ipld.Node, error) {
	dir := uio.NewDirectory(ds)
	dir.SetCidBuilder(prefix)
	for _, k := range kids {
		if err := dir.AddChild(ctx, path.Base(k), nodes[k]); err != nil {
			return nil, err
		}
	}
	return dir.GetNode()
}

func hamtDir(ctx context.Context, ds ipld.DAGService, prefix cid.Prefix, kids []string, nodes map[string]ipld.Node) (ipld.Node, error) {
	sh, err := hamt.NewShard(ds, uio.DefaultShardWidth)
	if err != nil {
		return nil, err
	}
	sh.SetCidBuilder(prefix)
	for _, k := range kids {
		if err := sh.Set(ctx, path.Base(k), nodes[k]); err != nil {
			return nil, err
		}
	}
	return sh.Node()
}
