package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/carblob"
)

// ErrNotCAR is matched by the error of asking the blocks of a blob that
// is not a catalogued CAR.
var ErrNotCAR = errors.New("not a catalogued CAR")

// Blocks is a CAR blob's block table, in file order: from the catalogue
// once a scan made it, else from one streaming scan of the blob (kept,
// unless another process is refreshing the catalogue; its blocks then
// become findable too). A CAR that ends early yields the blocks before
// the cut, and the error.
func (c *Catalog) Blocks(ctx context.Context, blobs blobstore.Store, digest mh.Multihash) ([]carblob.Block, error) {
	var id int64
	var kind int
	var scanned bool
	err := c.db.QueryRowContext(ctx, `SELECT b.id, b.kind, b.scanned FROM blobs b JOIN names n ON n.id = b.id WHERE n.digest = ?`, []byte(digest)).Scan(&id, &kind, &scanned)
	if err != nil || carblob.Kind(kind) == carblob.Other {
		return nil, fmt.Errorf("blob %s: %w", blobstore.Name(digest), ErrNotCAR)
	}
	if scanned {
		return c.scannedBlocks(ctx, id)
	}
	obj, err := blobs.Get(ctx, digest)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	var out []carblob.Block
	scanErr := carblob.Scan(obj, func(b carblob.Block) error {
		out = append(out, b)
		return nil
	})
	if scanErr != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err := c.keepScan(ctx, id, out); err != nil && !errors.Is(err, ErrBusy) {
		return nil, err
	}
	if scanErr != nil {
		return out, fmt.Errorf("blob %s: %w", blobstore.Name(digest), scanErr)
	}
	return out, nil
}

func (c *Catalog) scannedBlocks(ctx context.Context, id int64) ([]carblob.Block, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT cid, offset, length FROM blocks WHERE shard = ? ORDER BY offset`, id)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	defer rows.Close()
	var out []carblob.Block
	for rows.Next() {
		var raw []byte
		var b carblob.Block
		if err := rows.Scan(&raw, &b.Offset, &b.Length); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		if b.CID, err = cid.Cast(raw); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// keepScan records a scan's table, and its blocks as slices of the
// blob, so that they are found too.
func (c *Catalog) keepScan(ctx context.Context, id int64, blocks []carblob.Block) error {
	lock, err := c.lockWriter()
	if err != nil {
		return err
	}
	defer lock.release()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM blocks WHERE shard = ?`, `DELETE FROM slices WHERE source = ?`} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
	}
	for _, b := range blocks {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO blocks(shard, offset, length, cid) VALUES (?, ?, ?, ?)`, id, int64(b.Offset), int64(b.Length), b.CID.Bytes()); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO slices(digest, shard, offset, length, source) VALUES (?, ?, ?, ?, ?)`, []byte(b.CID.Hash()), id, int64(b.Offset), int64(b.Length), id); err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE blobs SET scanned = 1 WHERE id = ?`, id); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}
