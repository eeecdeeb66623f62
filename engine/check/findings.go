package check

// Class says what a finding is: a Problem (what will fail; the check
// exits 1) or Info (worth knowing, not a fault).
type Class string

const (
	Problem Class = "problem"
	Info    Class = "info"
)

// Type is one type of finding. A new type of finding is one row of
// Types (and the constant naming it): the report, the JSON, the --prom
// file and the docs' table take it from there.
type Type struct {
	Name  string
	Class Class
	// Names says what a finding of it names.
	Names string
	// Meaning is one line: what it means.
	Meaning string
	// Fix is what to do about it, printed under a problem's examples;
	// "" where nothing needs doing.
	Fix string
}

// The types' names.
const (
	MissingBlob       = "missing-blob"
	SizeMismatch      = "size-mismatch"
	HashMismatch      = "hash-mismatch"
	OrphanBlob        = "orphan-blob"
	LegacyKey         = "legacy-key"
	DanglingIndex     = "dangling-index"
	UndecodableRecord = "undecodable-record"
	BadSlice          = "bad-slice"
	ProofAtRisk       = "proof-at-risk"
	Unresolvable      = "unresolvable-subroot"
	BadRootOffsets    = "bad-root-offsets"
	StuckRootAdd      = "stuck-root-add"
	DeadCommp         = "dead-commp"
	DeadAggregation   = "dead-aggregation"
	Unproven          = "unproven"

	PendingAllocation   = "pending-allocation"
	ExpiredAllocation   = "expired-allocation"
	BothKeys            = "both-keys"
	UnconsolidatedBatch = "unconsolidated-batch"
	Upload              = "upload"
	ShardElsewhere      = "shard-elsewhere"
	TooSmallForPDP      = "too-small-for-pdp"
	AwaitingAggregation = "awaiting-aggregation"
	AwaitingRootAdd     = "awaiting-root-add"
	UnprovenRecent      = "unproven-recent"
	PipelineUnknown     = "pipeline-unknown"
)

// Types are every type of finding, in the order reports show them.
var Types = []Type{
	{MissingBlob, Problem, "an acceptance",
		"an acceptance whose blob is not stored (Piri will fail PDP challenges on it)",
		"restore the blob from a backup or another copy of the node (`storefs blob put FILE`); until then every challenge on it fails"},
	{SizeMismatch, Problem, "an acceptance or allocation, and its blob",
		"the stored blob's size differs from its acceptance's or allocation's",
		"`storefs blob verify` says whether the blob hashes to its name: if it does the record is wrong, if not restore the blob from a good copy"},
	{HashMismatch, Problem, "a stored blob",
		"with `--verify`: the stored bytes do not hash to the blob's multihash",
		"the bytes rotted at rest: restore the blob from a good copy (`storefs blob put FILE`); PDP challenges on it fail"},
	{OrphanBlob, Problem, "a stored blob",
		"a stored blob with neither an allocation nor an acceptance",
		"nothing pays for it: once a backup shows its records were not lost, it can be removed"},
	{LegacyKey, Problem, "a stored blob (S3)",
		"an S3 blob only under Piri v0.2.3's bare key (v0.2.4 cannot find it)",
		"write it under its v0.2.4 key: `storefs blob get NAME > F && storefs blob put F`, or `storefs copy` the node, which writes v0.2.4 keys"},
	{DanglingIndex, Problem, "a ran-index entry",
		"a ran-index entry whose receipt is missing",
		"restore the receipt from a backup; the entry alone only makes its lookup fail"},
	{UndecodableRecord, Problem, "a record, or a retrieval-journal batch",
		"a record, or a retrieval-journal batch, that does not decode",
		"Piri cannot read it either: compare its bytes (the mount's raw file) with a backup and restore it"},
	{BadSlice, Problem, "a block of a stored shard, and the index that places it",
		"with `--verify`: the bytes an index says are a block's do not hash to its multihash",
		"the shard or its index is wrong: if the shard is a hash-mismatch too, restore it from a good copy; else the index (a bad index misleads every retrieval of the upload)"},
	{ProofAtRisk, Problem, "a subroot of a PDP proof set, and the blob behind it",
		"the blob behind a subroot is missing, not of its recorded size, or (`--verify`, `--verify-commp`) does not hash to its name or to the subroot's piece: every challenge that lands in it fails its proof set's proving period",
		"restore the blob from a good copy before the next challenge (`storefs blob put FILE`); `storefs pdp status` gives the chance a period fails"},
	{Unresolvable, Problem, "a subroot of a PDP proof set",
		"no row of Piri's commP table (pdp_piece_mh_to_commp) names the subroot's piece: Piri cannot find the blob to prove",
		"find the blob whose commP is the piece (`storefs pdp commp BLOB` gives a blob's) and restore the row from a backup of pdp/state/state.db"},
	{BadRootOffsets, Problem, "a root of a PDP proof set",
		"the root's subroots do not lie back to back from offset 0, or its padded size is not the next power of two of their sizes' sum: proofs of it are computed against a layout the chain does not hold",
		"the state database is inconsistent with the root Piri added: compare with the chain (`piri client pdp proofset get`) and restore state.db from a backup"},
	{StuckRootAdd, Problem, "a root add of a PDP proof set",
		"a root add whose transaction failed (add_message_ok = 0): Piri does not retry it, and its pieces are in no proof",
		"`piri client pdp proofset repair`"},
	{DeadCommp, Problem, "a blob accepted for PDP",
		"Piri's commP job for the blob was dead-lettered (failed for good, or 50 times): the blob has no piece and will never be in a proof, though it is paid as one",
		"fix what the error names (often the blob is missing or unreadable: restore it), then have Piri compute the commP again (a restart does not retry dead letters)"},
	{DeadAggregation, Problem, "a blob accepted for PDP, and its piece",
		"the job that aggregates the blob's piece, or that adds its aggregate to a proof set, was dead-lettered: the piece will never be in a proof",
		"fix what the error names, then have Piri aggregate the piece again (dead letters are not retried by a restart)"},
	{Unproven, Problem, "a blob accepted for PDP",
		"accepted for PDP longer ago than `--unproven-after` (24h by default, from the acceptance's executedAt), and in no proof set root, no root add, no aggregate on its way, no buffer and no queue: lost in the pipeline",
		"the blob is stored but nobody pays for it: ask Piri's operators' channel; `storefs pdp piece BLOB` shows what Piri knows of it"},

	{PendingAllocation, Info, "an allocation",
		"allocated, not yet accepted, not expired", ""},
	{ExpiredAllocation, Info, "an allocation",
		"allocated, never accepted, expired", ""},
	{BothKeys, Info, "a stored blob (S3)",
		"an S3 blob under its v0.2.4 and v0.2.3 keys", ""},
	{UnconsolidatedBatch, Info, "a retrieval-journal batch",
		"journal batches whose egress is not yet paid for, with the bytes served", ""},
	{Upload, Info, "an index blob",
		"an upload's index on this node whose shards are all here too", ""},
	{ShardElsewhere, Info, "a shard an index on this node names",
		"a shard stored on another node (Storacha places an upload's blobs apart): normal, never a problem", ""},
	{TooSmallForPDP, Info, "a blob accepted for PDP",
		"under 127 bytes: a piece needs at least 127, so the blob never gets a commP nor a proof", ""},
	{AwaitingAggregation, Info, "a blob accepted for PDP, and its piece",
		"its piece waits in the aggregator's buffer or queue for enough pieces to make an aggregate", ""},
	{AwaitingRootAdd, Info, "a blob accepted for PDP, and its piece",
		"its piece is in an aggregate waiting to be added to a proof set, or whose add is not yet confirmed", ""},
	{UnprovenRecent, Info, "a blob accepted for PDP",
		"in no proof set root, no aggregate, no buffer and no queue yet, accepted less than `--unproven-after` ago", ""},
	{PipelineUnknown, Info, "the aggregator datastore",
		"the aggregator's LevelDB is locked by the running node: blobs in no proof set root could not be classified (not guessed); check a stopped node or a copy of its data dir", ""},
}

// ProblemNames lists every problem, in the order reports show them.
var ProblemNames = namesOf(Problem)

// InfoNames lists every kind of information.
var InfoNames = namesOf(Info)

func namesOf(c Class) []string {
	var out []string
	for _, t := range Types {
		if t.Class == c {
			out = append(out, t.Name)
		}
	}
	return out
}

// TypeOf is the type named name; a name not in Types is a bug.
func TypeOf(name string) Type {
	for _, t := range Types {
		if t.Name == name {
			return t
		}
	}
	panic("check: no finding type " + name)
}
