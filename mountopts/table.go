// Package mountopts is the one table of storefs's settings and the one
// place user input becomes them. Every setting is a flag (--prefetch-budget),
// an -o option of `storefs mount` and of mount(8)/fstab with the same name
// in snake_case (prefetch_budget), and an environment variable
// (STOREFS_PREFETCH_BUDGET). Resolve applies one precedence rule:
//
//	flag > -o > environment > Piri config > default
//
// Backend settings pick and shape the store; mount settings shape the
// mount (only `storefs mount` takes them). Credentials are not settings:
// they never go on a command line or into fstab, and come from the
// environment, a Piri config file, or an --s3-credentials-file.
package mountopts

import (
	"strings"

	"github.com/storacha/storefs/readstack/prefetch"
)

// Scope says which commands take a setting.
type Scope int

const (
	// Backend settings: every command that opens a store.
	Backend Scope = iota
	// Mount settings: `storefs mount` only.
	Mount
)

// Kind is how a setting's value is written.
type Kind int

const (
	Bool     Kind = iota // a switch: --verify, -o verify
	String               // text
	Duration             // 30s, 1m, or plain seconds (2, 0.5) as FUSE tools write them
	Size                 // a size: K, M, G are powers of 1024; a bare number counts Unit
	ID                   // a uid or gid
)

// Setting is one row of the table.
type Setting struct {
	Name  string // the flag (--name); Opt and Env derive from it
	Kind  Kind
	Scope Scope
	// Selects: naming this setting picks the backend. Exactly one
	// selector may be named.
	Selects bool
	// Unit is what a bare number of a Size counts (1<<20: MiB).
	Unit int64
	// Min is the smallest value a Size or Duration may take.
	Min int64
	// Default is the value when nothing sets it, as a user would write it
	// ("" for none).
	Default string
	Usage   string
	// ValueName is the placeholder in help and docs (DIR, HOST:PORT).
	ValueName string
	// Choices, when set, are the only values a String may take.
	Choices []string
}

// Opt is the setting's -o name.
func (s Setting) Opt() string { return strings.ReplaceAll(s.Name, "-", "_") }

// Env is the setting's environment variable.
func (s Setting) Env() string { return "STOREFS_" + strings.ToUpper(s.Opt()) }

// Table is every setting, backend first.
var Table = []Setting{
	{Name: "data-dir", Kind: String, Scope: Backend, Selects: true, ValueName: "DIR",
		Usage: "a Piri data_dir: flatfs blobs in pdp/datastore, LevelDB records"},
	{Name: "s3-endpoint", Kind: String, Scope: Backend, Selects: true, ValueName: "HOST:PORT",
		Usage: "S3 server (a http:// or https:// URL also sets the scheme)"},
	{Name: "s3-bucket-prefix", Kind: String, Scope: Backend, ValueName: "PREFIX",
		Usage: "Piri's bucket_prefix: blobs are in the bucket PREFIX + pdp"},
	{Name: "s3-insecure", Kind: Bool, Scope: Backend,
		Usage: "plain http for S3"},
	{Name: "s3-region", Kind: String, Scope: Backend, ValueName: "REGION",
		Usage: "the S3 region requests are signed for (default: asked of the server)"},
	{Name: "s3-credentials-file", Kind: String, Scope: Backend, ValueName: "FILE",
		Usage: "S3 credentials in the AWS shared-credentials format (profile $AWS_PROFILE, else default); else $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else the Piri config's"},
	{Name: "config", Kind: String, Scope: Backend, Selects: true, ValueName: "FILE",
		Usage: "a Piri config TOML: its [repo] section picks the backend; other backend settings override it"},
	{Name: "memory", Kind: Bool, Scope: Backend, Selects: true,
		Usage: "an empty in-memory store (also when no backend is named)"},
	{Name: "timeout", Kind: Duration, Scope: Backend, Default: "30s", Min: 1, ValueName: "DUR",
		Usage: "bound on the backend work of one operation (a lookup, a read), retries included"},

	{Name: "allow-other", Kind: Bool, Scope: Mount,
		Usage: "let other users read the mount"},
	{Name: "default-permissions", Kind: Bool, Scope: Mount,
		Usage: "let the kernel check file modes"},
	{Name: "uid", Kind: ID, Scope: Mount, ValueName: "UID",
		Usage: "owner of every file (default: the mounting user)"},
	{Name: "gid", Kind: ID, Scope: Mount, ValueName: "GID",
		Usage: "group of every file (default: the mounting user's)"},
	{Name: "verify", Kind: Bool, Scope: Mount,
		Usage: "check every blob read whole against its multihash; EIO when the bytes do not match"},
	{Name: "debug", Kind: Bool, Scope: Mount,
		Usage: "log every FUSE request"},
	{Name: "log-format", Kind: String, Scope: Mount, Default: "text", ValueName: "FORMAT", Choices: []string{"text", "json"},
		Usage: "log as text or json"},
	{Name: "metrics-addr", Kind: String, Scope: Mount, ValueName: "HOST:PORT",
		Usage: "serve Prometheus metrics on /metrics, e.g. 127.0.0.1:9464"},
	{Name: "read-ahead-kb", Kind: Size, Scope: Mount, Unit: 1 << 10, Default: "1024", ValueName: "KIB",
		Usage: "kernel readahead of the mount (0: the kernel's own)"},
	{Name: "prefetch-budget", Kind: Size, Scope: Mount, Unit: 1 << 20, Default: "128", Min: prefetch.Defaults.MaxChunk, ValueName: "MIB",
		Usage: "memory for read-ahead of all open blobs; at least one 4 MiB chunk"},
	{Name: "no-passthrough", Kind: Bool, Scope: Mount,
		Usage: "serve flatfs blobs through the daemon (pread) instead of FUSE passthrough"},
	{Name: "cache-dir", Kind: String, Scope: Mount, ValueName: "DIR",
		Usage: "keep blob bytes fetched from S3 in DIR, across mounts (one mount at a time); with --verify also each verified blob's chunk hashes, which check partial reads"},
	{Name: "cache-size", Kind: Size, Scope: Mount, Unit: 1 << 20, Default: "5G", Min: 1 << 20, ValueName: "SIZE",
		Usage: "the most disk --cache-dir uses (256M, 2G; a bare number is MiB); least recently used blobs go first"},
	{Name: "entry-timeout", Kind: Duration, Scope: Mount, Default: "10s", ValueName: "DUR",
		Usage: "how long the kernel keeps a record file's name"},
	{Name: "attr-timeout", Kind: Duration, Scope: Mount, Default: "10s", ValueName: "DUR",
		Usage: "how long the kernel keeps a record file's attributes"},
	{Name: "negative-timeout", Kind: Duration, Scope: Mount, Default: "1s", ValueName: "DUR",
		Usage: "how long the kernel remembers a missing name"},
}

// aliases are older -o names, kept working.
var aliases = map[string]string{"insecure": "s3_insecure"}

// lookup finds a setting by its flag or -o name (or an alias).
func lookup(name string) (Setting, bool) {
	if a, ok := aliases[name]; ok {
		name = a
	}
	for _, s := range Table {
		if s.Name == name || s.Opt() == name {
			return s, true
		}
	}
	return Setting{}, false
}

// Of returns the settings of a scope, in table order.
func Of(scope Scope) []Setting {
	var out []Setting
	for _, s := range Table {
		if s.Scope == scope {
			out = append(out, s)
		}
	}
	return out
}
