-- Piri v0.2.4's aggregator job queues (lib/jobqueue, SQLite), as its own code
-- created them; written by scripts/piri-aggregator.
CREATE TABLE jobqueue (
  id text primary key default ('m_' || lower(hex(randomblob(16)))),
  created text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  updated text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  queue text not null,
  body blob not null,
  timeout text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  received integer not null default 0
) strict;
CREATE TRIGGER jobqueue_updated_timestamp after update on jobqueue begin
  update jobqueue set updated = strftime('%Y-%m-%dT%H:%M:%fZ') where id = old.id;
end;
CREATE INDEX jobqueue_queue_created_idx on jobqueue (queue, created);
CREATE TABLE jobqueue_dead (
    id text primary key,
    created text not null,
    updated text not null,
    queue text not null,
    body blob not null,
    timeout text not null,
    received integer not null,
    job_name text not null,
    failure_reason text not null,
    error_message text not null,
    moved_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ'))
) strict;
CREATE INDEX jobqueue_dead_queue_moved_at_idx on jobqueue_dead (queue, moved_at);
CREATE TABLE queues (
                        queue TEXT PRIMARY KEY,             -- logical queue name ("manager", "signer", etc.)
                        dedupe_enabled INTEGER NOT NULL
                            DEFAULT 0 -- 0 = no dedup; 1 = permanent dedupe enforced via job_done
) STRICT;
CREATE TABLE job_ns (
                        id     INTEGER PRIMARY KEY,         -- autoincrement namespace id
                        queue  TEXT    NOT NULL,            -- queue this namespace belongs to
                        name   TEXT    NOT NULL,            -- task name within that queue

                        UNIQUE(queue, name)                 -- ensures one id per (queue,name)
) STRICT;
CREATE TABLE jobs (
                      id        INTEGER PRIMARY KEY,          -- rowid table for fast inserts/claims
                      ns_id     INTEGER NOT NULL,             -- foreign key into job_ns.id
                      key       BLOB    NOT NULL,             -- 16- or 32-byte dedupe hash of payload
                      body      BLOB    NOT NULL,             -- raw CBOR or JSON payload
                      created_s INTEGER NOT NULL              -- epoch seconds when inserted
                                                 DEFAULT (strftime('%s')),
                      avail_s   INTEGER NOT NULL,             -- epoch seconds when visible again
                      attempts  INTEGER NOT NULL DEFAULT 0,   -- claim count (for backoff/DLQ)

                      FOREIGN KEY(ns_id) REFERENCES job_ns(id)
) STRICT;
CREATE UNIQUE INDEX jobs_unique_live ON jobs(ns_id, key);
CREATE INDEX jobs_claim_idx ON jobs(ns_id, avail_s, id);
CREATE TABLE job_done (
                          ns_id  INTEGER NOT NULL,            -- namespace id (queue,name pair)
                          key    BLOB    NOT NULL,            -- same hash as jobs.key
                          status INTEGER NOT NULL,            -- 1=success, 2=dead-letter, etc.
                          done_s INTEGER NOT NULL             -- epoch seconds when finalized
                              DEFAULT (strftime('%s')),

                          PRIMARY KEY (ns_id, key)            -- composite PK; perfect for WITHOUT ROWID
) WITHOUT ROWID;
CREATE TABLE job_dead (
                          id        INTEGER PRIMARY KEY,      -- preserves original job id for tracing
                          ns_id     INTEGER NOT NULL,         -- namespace (queue,name)
                          key       BLOB    NOT NULL,         -- dedupe hash
                          body      BLOB    NOT NULL,         -- original payload
                          attempts  INTEGER NOT NULL,         -- attempt count at failure
                          reason    TEXT    NOT NULL,         -- failure class or label
                          error     TEXT    NOT NULL,         -- human-readable error message
                          moved_s   INTEGER NOT NULL          -- epoch seconds moved into DLQ
                              DEFAULT (strftime('%s')),

                          FOREIGN KEY(ns_id) REFERENCES job_ns(id)
) STRICT;
