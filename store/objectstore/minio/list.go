package minio

import (
	"context"
	"iter"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/storacha/storefs/store/objectstore"
	"github.com/storacha/storefs/store/objectstore/keyranges"
)

// List pages through ListObjectsV2 (1000 keys a page), yielding as it
// goes. Past a full page, a listing runs as several at once: per shard
// in a big Sharded bucket, else per range of keys (keyranges).
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[objectstore.Info, error] {
	if prefix == "" && s.shards > 0 {
		return s.listAdaptive(ctx)
	}
	return s.listRanges(ctx, prefix, "")
}

func (s *Store) listRanges(ctx context.Context, prefix, after string) iter.Seq2[objectstore.Info, error] {
	return keyranges.List(ctx, after, func(ctx context.Context, after string) iter.Seq2[objectstore.Info, error] {
		return s.list(ctx, prefix, after)
	}, keyranges.Defaults)
}

// perShardPays says whether a bucket whose shards hold k keys each is
// listed sooner per shard, s.shards at a time, than page by page: with
// S shards that is S/s.shards rounds of requests against k·S/1000 pages
// one after another, and a shard's request costs no more than a page's
// (a round trip and at most 1,000 keys). So it pays from 1000/s.shards
// keys a shard: 63 with 16 at once, a bucket of 64,000 keys.
func (s *Store) perShardPays(k int) bool { return k*s.shards >= 1000 }

// listAdaptive lists page by page, and when the first 1,000 keys show
// shards big enough for perShardPays, finishes the shard it is in and
// lists the rest per shard; other keys past the first 1,000, per range.
func (s *Store) listAdaptive(ctx context.Context) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		pageCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		var n, sharded, shards int
		lastShard, lastKey, switching := "", "", false
		for info, err := range s.list(pageCtx, "", "") {
			if err != nil {
				yield(info, err)
				return
			}
			shard, _, inShard := strings.Cut(info.Key, "/")
			if switching && shard != lastShard {
				// The next shard begins: list from here per shard.
				cancel()
				for info, err := range s.listSharded(ctx, lastKey) {
					if !yield(info, err) || err != nil {
						return
					}
				}
				return
			}
			if !yield(info, nil) {
				return
			}
			n++
			if inShard {
				sharded++
				if shard != lastShard {
					shards++
				}
				lastShard = shard
			}
			lastKey = info.Key
			switch {
			case n != 1000 || switching:
			case sharded >= 900 && s.perShardPays(sharded/shards):
				switching = true
			case sharded < 900:
				cancel()
				for info, err := range s.listRanges(ctx, "", lastKey) {
					if !yield(info, err) || err != nil {
						return
					}
				}
				return
			}
		}
	}
}

// KeyAfter is one ListObjectsV2 request of one key, after key (the
// iterator asks for no further page once it is left).
func (s *Store) KeyAfter(ctx context.Context, key string) (objectstore.Info, bool, error) {
	for info := range s.c.mc.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Recursive: true, StartAfter: key, MaxKeys: 1}) {
		if info.Err != nil {
			return objectstore.Info{}, false, s.c.wrap(info.Err, "s3 list %s after %q", s.bucket, key)
		}
		return objectstore.Info{Key: info.Key, Size: info.Size, ModTime: info.LastModified}, true, nil
	}
	return objectstore.Info{}, false, ctx.Err()
}

func (s *Store) list(ctx context.Context, prefix, startAfter string) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(objectstore.Info{}, err)
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for info := range s.c.mc.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, StartAfter: startAfter}) {
			if info.Err != nil {
				yield(objectstore.Info{}, s.c.wrap(info.Err, "s3 list %s/%s", s.bucket, prefix))
				return
			}
			if !yield(objectstore.Info{Key: info.Key, Size: info.Size, ModTime: info.LastModified}, nil) {
				return
			}
		}
	}
}

// pending is one place in a sharded listing's order: an object at the
// top level, or a shard whose listing runs (or ran) ahead of the reader.
type pending struct {
	info  objectstore.Info
	shard chan shardList // nil for a top-level object
}

type shardList struct {
	infos []objectstore.Info
	err   error
}

// listSharded lists the top level (after startAfter) with a delimiter,
// and each prefix in it with up to s.shards listings at once, yielding
// each prefix's keys where the top-level listing has the prefix: every
// key in key order, as a listing page by page yields them (KeyAfter's
// callers count on it). What is held is the shards listed ahead of the
// reader, at most twice s.shards of them, and one page's top-level
// objects. A failed shard ends the listing with its error.
func (s *Store) listSharded(ctx context.Context, startAfter string) iter.Seq2[objectstore.Info, error] {
	return func(yield func(objectstore.Info, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		order := make(chan pending, s.shards)
		slots := make(chan struct{}, s.shards)
		var topErr error
		go func() {
			defer close(order)
			send := func(p pending) bool {
				select {
				case order <- p:
					return true
				case <-ctx.Done():
					return false
				}
			}
			var top topLevel
			for info := range s.c.mc.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{StartAfter: startAfter}) {
				if info.Err != nil {
					topErr = s.c.wrap(info.Err, "s3 list %s", s.bucket)
					return
				}
				p := pending{info: objectstore.Info{Key: info.Key, Size: info.Size, ModTime: info.LastModified}}
				for _, o := range top.next(p.info, strings.HasSuffix(info.Key, "/")) {
					if !send(pending{info: o}) {
						return
					}
				}
				if !strings.HasSuffix(info.Key, "/") {
					continue // held by top until its place is known
				}
				// a common prefix: a shard, listed by a goroutine of its own
				p.shard = make(chan shardList, 1)
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				go func(prefix string, out chan<- shardList) {
					defer func() { <-slots }()
					var l shardList
					for info, err := range s.list(ctx, prefix, "") {
						if err != nil {
							l.err = err
							break
						}
						l.infos = append(l.infos, info)
					}
					out <- l
				}(info.Key, p.shard)
				if !send(p) {
					return
				}
			}
			for _, o := range top.held {
				if !send(pending{info: o}) {
					return
				}
			}
		}()
		for p := range order {
			if p.shard == nil {
				if !yield(p.info, nil) {
					return
				}
				continue
			}
			var l shardList
			select {
			case l = <-p.shard:
			case <-ctx.Done():
				yield(objectstore.Info{}, ctx.Err())
				return
			}
			if l.err != nil {
				yield(objectstore.Info{}, l.err)
				return
			}
			for _, info := range l.infos {
				if !yield(info, nil) {
					return
				}
			}
		}
		if topErr != nil {
			yield(objectstore.Info{}, topErr)
		} else if err := ctx.Err(); err != nil {
			yield(objectstore.Info{}, err)
		}
	}
}

// topLevel puts a delimiter listing's objects back in key order.
// minio-go yields each page's objects, then its prefixes, each in key
// order, and pages in order: so the objects since the last prefix are
// held until a prefix shows which of them sort before it, or an object
// after a prefix (a new page) or the end shows that all of them do.
type topLevel struct {
	held        []objectstore.Info
	afterPrefix bool
}

// next takes the listing's next entry and returns the held objects that
// come before it; an object is held in its turn.
func (t *topLevel) next(info objectstore.Info, prefix bool) []objectstore.Info {
	var out []objectstore.Info
	if prefix {
		i := 0
		for i < len(t.held) && t.held[i].Key < info.Key {
			i++
		}
		out, t.held = t.held[:i], t.held[i:]
		t.afterPrefix = true
		return out
	}
	if t.afterPrefix {
		out, t.held = t.held, nil
		t.afterPrefix = false
	}
	t.held = append(t.held, info)
	return out
}
