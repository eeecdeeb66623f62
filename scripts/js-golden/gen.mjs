// Makes storefs's golden upload with the real Storacha JS client, offline:
// the very pipeline of @storacha/upload-client's uploadDirectory (UnixFS
// encoder, block dedupe, ShardingStream, each shard's own slice, then
// indexShardedDAG) with the network calls left out. Writes the shards and
// the index, each named by its blob name (b32 of its sha2-256
// multihash), and manifest.json, into the directory given.
//   node gen.mjs OUTDIR
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import * as UnixFS from '@storacha/upload-client/unixfs'
import { ShardingStream } from '@storacha/upload-client/sharding'
import { BlockDeduplicationStream } from '@storacha/upload-client/deduplication'
import { indexShardedDAG } from '@storacha/blob-index'
import { sha256 } from 'multiformats/hashes/sha2'
import { base32 } from 'multiformats/bases/base32'

const out = process.argv[2]
if (!out) throw new Error('usage: node gen.mjs OUTDIR')
mkdirSync(out, { recursive: true })

// Deterministic bytes: an xorshift stream from a seed.
function bytes (n, seed) {
  const b = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    b[i] = x & 0xff
  }
  return b
}

const files = [
  ['big.bin', bytes(1_100_000, 1)], // > 1 MiB: a file of two leaves (1 MiB chunks)
  ['docs/readme.txt', new TextEncoder().encode('a golden upload made with @storacha/upload-client\n')],
  ['docs/empty.txt', new Uint8Array(0)],
  ['photos/a.jpg', bytes(70_000, 2)],
  ['photos/b.jpg', bytes(120_000, 3)]
].map(([name, data]) => new File([data], name))

const shardSize = 1_100_000 // small, so the upload spans several shards (a leaf is 1 MiB)
const shards = []
const shardIndexes = []
const written = []
let root = null
await UnixFS.createDirectoryEncoderStream(files)
  .pipeThrough(new BlockDeduplicationStream())
  .pipeThrough(new ShardingStream({ shardSize }))
  .pipeTo(new WritableStream({
    async write (car) {
      const data = new Uint8Array(await car.arrayBuffer())
      const digest = await sha256.digest(data)
      root = root || car.roots[0]
      car.slices.set(digest, [0, data.length]) // the shard itself, as uploadBlockStream adds it
      shards.push({ multihash: digest })
      shardIndexes.push(car.slices)
      written.push(save(digest, data))
    }
  }))
const shardLinks = shards.map(s => ({ multihash: s.multihash, code: 0x0202, version: 1, bytes: s.multihash.bytes, '/': s.multihash.bytes }))
const index = await indexShardedDAG(root, shardLinks, shardIndexes)
if (!index.ok) throw index.error
const indexName = save(await sha256.digest(index.ok), index.ok)

function save (digest, data) {
  const name = base32.baseEncode(digest.bytes)
  writeFileSync(join(out, name), data)
  return name
}

const manifest = {
  made_with: '@storacha/upload-client 1.4.2, @storacha/blob-index 1.2.9 (scripts/js-golden)',
  shard_size: shardSize,
  root: root.toString(),
  shards: written,
  index: indexName,
  files: Object.fromEntries(await Promise.all(files.map(async f => [f.name, createHash('sha256').update(new Uint8Array(await f.arrayBuffer())).digest('hex')])))
}
writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
console.log(`root ${manifest.root}: ${written.length} shards, index ${indexName}`)
