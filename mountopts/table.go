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
	"path/filepath"
	"strconv"
	"strings"

	"github.com/storacha/storefs/readstack/prefetch"
	"github.com/storacha/storefs/store/node"
	"github.com/storacha/storefs/store/objectstore/minio"
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
	// backend is what the setting, when it selects, picks.
	backend backendKind
	// s3Only: a setting of the S3 backend, refused beside another.
	s3Only bool
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
	// to is where the resolved value goes: a *bool, *string,
	// *time.Duration, *uint32, *int64 (a Size in bytes) or *int (a Size
	// in Units).
	to func(*target) any
	// piri is the value a Piri config gives the setting, if any.
	piri func(node.Config) (string, bool)
	// needs names a setting this one means nothing without, when set
	// other than by default.
	needs string
	// dflt, when set, is the default where it depends on the
	// environment (Default is then ""; Usage says the rule).
	dflt func(env func(string) string) string
}

// Opt is the setting's -o name.
func (s Setting) Opt() string { return strings.ReplaceAll(s.Name, "-", "_") }

// Env is the setting's environment variable.
func (s Setting) Env() string { return "STOREFS_" + strings.ToUpper(s.Opt()) }

// Table is every setting, backend first. A default that belongs to the
// code that uses it (read-ahead's budget, S3's request bound) is read
// from there, not stated again.
var Table = []Setting{
	{Name: "data-dir", Kind: String, Scope: Backend, Selects: true, backend: dataDirBackend, ValueName: "DIR",
		Usage: "a Piri data_dir: flatfs blobs in pdp/datastore, LevelDB records",
		to:    func(t *target) any { return &t.store.dataDir },
		piri:  func(c node.Config) (string, bool) { return c.DataDir, c.DataDir != "" }},
	{Name: "s3-endpoint", Kind: String, Scope: Backend, Selects: true, backend: s3Backend, ValueName: "HOST:PORT",
		Usage: "S3 server (a http:// or https:// URL also sets the scheme)",
		to:    func(t *target) any { return &t.store.s3.Endpoint },
		piri:  func(c node.Config) (string, bool) { return piriS3(c, func(s *node.S3) string { return s.Endpoint }) }},
	{Name: "s3-bucket-prefix", Kind: String, Scope: Backend, s3Only: true, ValueName: "PREFIX",
		Usage: "Piri's bucket_prefix: blobs are in the bucket PREFIX + pdp",
		to:    func(t *target) any { return &t.store.s3.BucketPrefix },
		piri: func(c node.Config) (string, bool) {
			return piriS3(c, func(s *node.S3) string { return s.BucketPrefix })
		}},
	{Name: "s3-insecure", Kind: Bool, Scope: Backend, s3Only: true,
		Usage: "plain http for S3",
		to:    func(t *target) any { return &t.store.s3.Insecure },
		piri: func(c node.Config) (string, bool) {
			return piriS3(c, func(s *node.S3) string { return strconv.FormatBool(s.Insecure) })
		}},
	{Name: "s3-region", Kind: String, Scope: Backend, s3Only: true, ValueName: "REGION",
		Usage: "the S3 region requests are signed for (default: asked of the server)",
		to:    func(t *target) any { return &t.store.s3.Region }},
	{Name: "s3-credentials-file", Kind: String, Scope: Backend, s3Only: true, ValueName: "FILE",
		Usage: "S3 credentials in the AWS shared-credentials format (profile $AWS_PROFILE, else default); else $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else the Piri config's",
		to:    func(t *target) any { return &t.store.credentialsFile }},
	{Name: "config", Kind: String, Scope: Backend, Selects: true, backend: configBackend, ValueName: "FILE",
		Usage: "a Piri config TOML: its [repo] section picks the backend; other backend settings override it",
		to:    func(t *target) any { return &t.store.config }},
	{Name: "memory", Kind: Bool, Scope: Backend, Selects: true, backend: memoryBackend,
		Usage: "an empty in-memory store (also when no backend is named)"},
	{Name: "catalog-dir", Kind: String, Scope: Backend, ValueName: "DIR",
		Usage: "where the catalogue of what each blob is lives, one per store (default $XDG_CACHE_HOME/storefs/catalog, else ~/.cache/storefs/catalog, else /var/cache/storefs/catalog)",
		to:    func(t *target) any { return &t.out.CatalogDir }, dflt: catalogDir},
	{Name: "timeout", Kind: Duration, Scope: Backend, Default: minio.DefaultTimeout.String(), Min: 1, ValueName: "DUR",
		Usage: "bound on the backend work of one operation (a lookup, a read), retries included",
		to:    func(t *target) any { return &t.out.Store.Timeout }},

	{Name: "allow-other", Kind: Bool, Scope: Mount,
		Usage: "let other users read the mount",
		to:    func(t *target) any { return &t.out.Mount.AllowOther }},
	{Name: "default-permissions", Kind: Bool, Scope: Mount,
		Usage: "let the kernel check file modes",
		to:    func(t *target) any { return &t.out.Mount.DefaultPermissions }},
	{Name: "uid", Kind: ID, Scope: Mount, ValueName: "UID",
		Usage: "owner of every file (default: the mounting user)",
		to:    func(t *target) any { return &t.out.Mount.UID }},
	{Name: "gid", Kind: ID, Scope: Mount, ValueName: "GID",
		Usage: "group of every file (default: the mounting user's)",
		to:    func(t *target) any { return &t.out.Mount.GID }},
	{Name: "verify", Kind: Bool, Scope: Mount,
		Usage: "check every blob read whole against its multihash; EIO when the bytes do not match",
		to:    func(t *target) any { return &t.out.Mount.Verify }},
	{Name: "debug", Kind: Bool, Scope: Mount,
		Usage: "log every FUSE request",
		to:    func(t *target) any { return &t.out.Mount.Debug }},
	{Name: "log-format", Kind: String, Scope: Mount, Default: "text", ValueName: "FORMAT", Choices: []string{"text", "json"},
		Usage: "log as text or json",
		to:    func(t *target) any { return &t.out.LogFormat }},
	{Name: "metrics-addr", Kind: String, Scope: Mount, ValueName: "HOST:PORT",
		Usage: "serve Prometheus metrics on /metrics, e.g. 127.0.0.1:9464",
		to:    func(t *target) any { return &t.out.MetricsAddr }},
	{Name: "read-ahead-kb", Kind: Size, Scope: Mount, Unit: 1 << 10, Default: "1024", ValueName: "KIB",
		Usage: "kernel readahead of the mount (0: the kernel's own)",
		to:    func(t *target) any { return &t.out.Mount.ReadAheadKB }},
	{Name: "prefetch-budget", Kind: Size, Scope: Mount, Unit: 1 << 20, Default: strconv.FormatInt(prefetch.Defaults.Budget>>20, 10), Min: prefetch.Defaults.MaxChunk, ValueName: "MIB",
		Usage: "memory for read-ahead of all open blobs; at least one 4 MiB chunk",
		to:    func(t *target) any { return &t.out.Mount.Prefetch.Budget }},
	{Name: "no-passthrough", Kind: Bool, Scope: Mount,
		Usage: "serve flatfs blobs through the daemon (pread) instead of FUSE passthrough",
		to:    func(t *target) any { return &t.out.Mount.NoPassthrough }},
	{Name: "cache-dir", Kind: String, Scope: Mount, ValueName: "DIR",
		Usage: "keep blob bytes fetched from S3 in DIR, across mounts (one mount at a time); with --verify also each verified blob's chunk hashes, which check partial reads",
		to:    func(t *target) any { return &t.out.CacheDir }},
	{Name: "cache-size", Kind: Size, Scope: Mount, Unit: 1 << 20, Default: "5G", Min: 1 << 20, ValueName: "SIZE", needs: "cache-dir",
		Usage: "the most disk --cache-dir uses (256M, 2G; a bare number is MiB); least recently used blobs go first",
		to:    func(t *target) any { return &t.out.CacheSize }},
	{Name: "entry-timeout", Kind: Duration, Scope: Mount, Default: "10s", ValueName: "DUR",
		Usage: "how long the kernel keeps a record file's name",
		to:    func(t *target) any { return &t.out.Mount.RecordTimeout }},
	{Name: "attr-timeout", Kind: Duration, Scope: Mount, Default: "10s", ValueName: "DUR",
		Usage: "how long the kernel keeps a record file's attributes",
		to:    func(t *target) any { return &t.out.Mount.RecordAttrTimeout }},
	{Name: "negative-timeout", Kind: Duration, Scope: Mount, Default: "1s", ValueName: "DUR",
		Usage: "how long the kernel remembers a missing name",
		to:    func(t *target) any { return &t.out.Mount.NegativeTimeout }},
}

// piriS3 is a value of a Piri config's [repo.s3], when it has one.
func piriS3(c node.Config, v func(*node.S3) string) (string, bool) {
	if c.S3 == nil {
		return "", false
	}
	return v(c.S3), true
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

// catalogDir is the catalogue's default place: the user's cache
// directory (XDG), else the system's.
func catalogDir(env func(string) string) string {
	if d := env("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "storefs", "catalog")
	}
	if h := env("HOME"); h != "" {
		return filepath.Join(h, ".cache", "storefs", "catalog")
	}
	return filepath.Join("/var/cache", "storefs", "catalog")
}
