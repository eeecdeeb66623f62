package catalog

import (
	"context"
	"fmt"

	mh "github.com/multiformats/go-multihash"
)

// IndexView is an index blob on this node and the shards it names.
type IndexView struct {
	Digest  mh.Multihash
	Content string // the CID the index names (guppy: its placeholder)
	Shards  []ShardRef
	Slices  int64
}

// ShardRef is a shard an index names, and whether this node stores it.
type ShardRef struct {
	Digest mh.Multihash
	Here   bool
}

// Indexes calls yield for every catalogued index blob, in digest order,
// with the shards it names; it stops when yield returns false.
func (c *Catalog) Indexes(ctx context.Context, yield func(IndexView) bool) error {
	rows, err := c.db.QueryContext(ctx, `SELECT i.id, n.digest, i.content, i.slices FROM indexes i JOIN names n ON n.id = i.id JOIN blobs b ON b.id = i.id ORDER BY n.digest`)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	var ids []int64
	var views []IndexView
	for rows.Next() {
		var id int64
		var v IndexView
		var d []byte
		if err := rows.Scan(&id, &d, &v.Content, &v.Slices); err != nil {
			rows.Close()
			return fmt.Errorf("catalog: %w", err)
		}
		v.Digest = d
		ids, views = append(ids, id), append(views, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	for i, id := range ids {
		shards, err := c.db.QueryContext(ctx, `SELECT DISTINCT n.digest, b.id IS NOT NULL FROM slices s JOIN names n ON n.id = s.shard LEFT JOIN blobs b ON b.id = s.shard WHERE s.source = ? ORDER BY n.digest`, id)
		if err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		for shards.Next() {
			var d []byte
			var here bool
			if err := shards.Scan(&d, &here); err != nil {
				shards.Close()
				return fmt.Errorf("catalog: %w", err)
			}
			views[i].Shards = append(views[i].Shards, ShardRef{Digest: d, Here: here})
		}
		shards.Close()
		if !yield(views[i]) {
			return nil
		}
	}
	return nil
}

// Slice is a block an index (or a scan) puts in a blob.
type Slice struct {
	Digest         mh.Multihash
	Offset, Length uint64
	// Index is the index blob that says so; nil for a scan's.
	Index mh.Multihash
}

// SlicesOf is every catalogued slice of the blob digest, by offset.
func (c *Catalog) SlicesOf(ctx context.Context, digest mh.Multihash) ([]Slice, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT s.digest, s.offset, s.length, src.digest, s.source = s.shard
		FROM slices s JOIN names sh ON sh.id = s.shard JOIN names src ON src.id = s.source
		WHERE sh.digest = ? ORDER BY s.offset`, []byte(digest))
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []Slice
	for rows.Next() {
		var s Slice
		var d, src []byte
		var scanned bool
		if err := rows.Scan(&d, &s.Offset, &s.Length, &src, &scanned); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		s.Digest = d
		if !scanned {
			s.Index = src
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
