package mountopts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/storacha/storefs/store/node"
)

// ErrUsage is matched by every error in what the user wrote: the caller
// exits with 2.
var ErrUsage = errors.New("usage")

func usage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Layer is where a value came from, strongest first.
type Layer int

const (
	FromFlag Layer = iota
	FromOption
	FromEnv
	FromPiri
	FromDefault
	unset
)

func (l Layer) String() string {
	return [...]string{"flag", "-o", "environment", "Piri config", "default", "unset"}[l]
}

// Input is what a command was given.
type Input struct {
	// Flags are the table's flags set on the command line, by Name, as
	// written (a Bool as "true" or "false").
	Flags map[string]string
	// Options are -o lists, in order: a later value wins.
	Options []string
	// Source is the mount-helper SOURCE (see Source), "" when none.
	Source string
	// Env reads the environment (os.Getenv); nil reads nothing.
	Env func(string) string
	// Scope is Mount for `storefs mount` (every setting), Backend for
	// the other commands (backend settings only, no -o).
	Scope Scope
	// Discover: with no backend named, look for a Piri config where Piri
	// looks (read-only commands do); else the empty memory store.
	Discover bool
	// Explicit: a backend must be named (writes: blob put).
	Explicit bool
	// ConfigPaths are where Discover looks, in order; nil: ConfigPaths().
	ConfigPaths []string
}

// ConfigPaths are where Piri keeps its config, in the order it looks:
// the user's config directory (XDG), the working directory, then where
// `piri install` writes it.
func ConfigPaths() []string {
	var out []string
	if dir, err := os.UserConfigDir(); err == nil {
		out = append(out, filepath.Join(dir, "piri", "config.toml"))
	}
	return append(out, "piri-config.toml", "/opt/piri/etc/piri-config.toml")
}

// Settings are resolved values.
type Settings struct {
	// Store is the backend: selected, with its settings.
	Store node.Config

	AllowOther, DefaultPermissions bool
	Verify, Debug, NoPassthrough   bool
	UID, GID                       *uint32
	EntryTimeout, AttrTimeout      time.Duration
	NegativeTimeout                time.Duration
	LogFormat, MetricsAddr         string
	ReadAheadKB                    int
	PrefetchBudget                 int64 // bytes
	CacheDir                       string
	CacheSize                      int64 // bytes

	// From says where each setting's value came from, by Name.
	From map[string]Layer
	// Found is the Piri config Discover used, "" when none.
	Found string
	// Warning says what a user should know of the backend chosen for
	// them (no backend named, none found), "" when nothing.
	Warning string
}

// credentialOpts are what users might write to put credentials in -o;
// they are refused with the reason.
var credentialOpts = []string{"s3_access_key_id", "s3_secret_access_key", "access_key_id", "secret_access_key", "aws_access_key_id", "aws_secret_access_key"}

// CredentialError explains where credentials go instead of name.
func CredentialError(name string) error {
	return usage("%s: credentials never go on a command line or into fstab (other users can read both); use $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, a Piri config file, or --s3-credentials-file", name)
}

// values holds one layer's raw values, by Name.
type values map[string]string

// Resolve applies flag > -o > environment > Piri config > default to in.
func Resolve(in Input) (Settings, error) {
	env := in.Env
	if env == nil {
		env = func(string) string { return "" }
	}
	layers := [unset]values{FromFlag: {}, FromOption: {}, FromEnv: {}, FromPiri: {}, FromDefault: {}}
	// named are the backend selectors the user named: the setting, and
	// how it was written (for the message when there are two).
	type mention struct{ name, as string }
	var named []mention

	for name, val := range in.Flags {
		s, ok := lookup(name)
		if !ok || s.Name != name || !in.takes(s) {
			return Settings{}, usage("--%s is not a setting of this command", name)
		}
		layers[FromFlag][s.Name] = val
		if s.Selects && !(s.Kind == Bool && val == "false") {
			named = append(named, mention{s.Name, "--" + s.Name})
		}
	}
	optSelectors := map[string]bool{}
	for _, list := range in.Options {
		if in.Scope != Mount {
			return Settings{}, usage("-o is an option of mount only")
		}
		if err := parseList(list, layers[FromOption], optSelectors); err != nil {
			return Settings{}, err
		}
	}
	for name := range optSelectors {
		s, _ := lookup(name)
		named = append(named, mention{s.Name, "-o " + s.Opt()})
	}
	if in.Source != "" {
		src, err := Source(in.Source)
		if err != nil {
			return Settings{}, err
		}
		selects := ""
		for name, val := range src { // -o options beside it win
			if _, set := layers[FromOption][name]; !set {
				layers[FromOption][name] = val
			}
			if s, _ := lookup(name); s.Selects {
				selects = name
			}
		}
		named = append(named, mention{selects, "SOURCE " + in.Source})
	}
	for _, s := range Table {
		if in.takes(s) {
			if v := env(s.Env()); v != "" {
				layers[FromEnv][s.Name] = v
			}
		}
		if s.Default != "" {
			layers[FromDefault][s.Name] = s.Default
		}
	}

	// Exactly one backend selector: the command line's (flags, -o,
	// SOURCE), else the environment's, else memory.
	if len(named) == 0 {
		for _, s := range Table {
			if v, ok := layers[FromEnv][s.Name]; ok && s.Selects {
				if s.Kind == Bool {
					if on, _ := parseBool(v); !on {
						continue
					}
				}
				named = append(named, mention{s.Name, "$" + s.Env()})
			}
		}
	}
	if len(named) > 1 {
		var as []string
		for _, m := range named {
			as = append(as, m.as)
		}
		slices.Sort(as)
		return Settings{}, usage("name one backend, not %s", strings.Join(as, " and "))
	}
	selector := "memory"
	var found, warning string
	switch {
	case len(named) == 1:
		selector = named[0].name
	case in.Explicit:
		return Settings{}, usage("name a backend (--data-dir, --s3-endpoint, --config or --memory): this command writes")
	case in.Discover:
		paths := in.ConfigPaths
		if paths == nil {
			paths = ConfigPaths()
		}
		for _, p := range paths {
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				found = p
				break
			}
		}
		if found == "" {
			warning = fmt.Sprintf("no backend named and no Piri config found (looked in %s): showing an empty memory store", strings.Join(paths, ", "))
			break
		}
		selector = "config"
	}

	var piri node.Config
	if selector == "config" {
		path := found
		if path == "" {
			path, _ = first(layers, "config")
		}
		var err error
		if piri, err = node.LoadPiri(path, env); err != nil {
			if errors.Is(err, node.ErrBadConfig) {
				return Settings{}, usage("%v", err)
			}
			return Settings{}, err
		}
		p := layers[FromPiri]
		if piri.DataDir != "" {
			p["data-dir"] = piri.DataDir
		}
		if piri.S3 != nil {
			p["s3-endpoint"] = piri.S3.Endpoint
			p["s3-bucket-prefix"] = piri.S3.BucketPrefix
			p["s3-insecure"] = fmt.Sprint(piri.S3.Insecure)
		}
	}
	s3 := selector == "s3-endpoint" || (selector == "config" && piri.S3 != nil)
	// S3 settings written beside another backend are a mistake; in the
	// environment they may be meant for another mount.
	for _, name := range []string{"s3-bucket-prefix", "s3-insecure", "s3-region", "s3-credentials-file"} {
		_, byFlag := layers[FromFlag][name]
		_, byOpt := layers[FromOption][name]
		if (byFlag || byOpt) && !s3 {
			return Settings{}, usage("--%s (-o %s) is an S3 setting: it needs --s3-endpoint, or a --config whose [repo] has s3", name, strings.ReplaceAll(name, "-", "_"))
		}
	}

	out := Settings{From: map[string]Layer{}, Found: found, Warning: warning}
	get := func(name string) string {
		v, l := first(layers, name)
		if l != unset {
			out.From[name] = l
		}
		return v
	}
	for _, s := range Table {
		if !in.takes(s) {
			continue
		}
		if v, l := first(layers, s.Name); l != unset {
			if err := s.check(v); err != nil {
				return Settings{}, usage("%s: %v", where(s, l, v), err)
			}
		}
	}

	timeout, _ := parseDuration(get("timeout"))
	out.Store = node.Config{Timeout: timeout}
	switch {
	case s3:
		insecure, _ := parseBool(orFalse(get("s3-insecure")))
		out.Store.S3 = &node.S3{
			Endpoint:     get("s3-endpoint"),
			BucketPrefix: get("s3-bucket-prefix"),
			Insecure:     insecure,
			Region:       get("s3-region"),
		}
		if err := credentialsFor(out.Store.S3, get("s3-credentials-file"), env, piri.S3); err != nil {
			return Settings{}, err
		}
		if selector == "config" {
			out.Store.DataDir = piri.DataDir // a node in S3 mode keeps local stores there
		}
	case selector == "data-dir" || selector == "config":
		out.Store.DataDir = get("data-dir")
		if out.Store.DataDir == "" {
			return Settings{}, usage("--data-dir: empty directory name")
		}
		if b := piri.BlobBucket; b != nil && selector == "config" {
			bucket := *b
			if bucket.AccessKeyID == "" {
				bucket.AccessKeyID, bucket.SecretAccessKey = env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")
			}
			out.Store.BlobBucket = &bucket
		}
	}
	if in.Scope != Mount {
		return out, nil
	}

	flag := func(name string) bool { b, _ := parseBool(orFalse(get(name))); return b }
	dur := func(name string) time.Duration { d, _ := parseDuration(get(name)); return d }
	size := func(name string) int64 {
		s, _ := lookup(name)
		n, _ := ParseSize(get(name), s.Unit)
		return n
	}
	id := func(name string) *uint32 {
		if v := get(name); v != "" {
			n, _ := parseID(v)
			return &n
		}
		return nil
	}
	out.AllowOther, out.DefaultPermissions = flag("allow-other"), flag("default-permissions")
	out.Verify, out.Debug, out.NoPassthrough = flag("verify"), flag("debug"), flag("no-passthrough")
	out.UID, out.GID = id("uid"), id("gid")
	out.EntryTimeout, out.AttrTimeout, out.NegativeTimeout = dur("entry-timeout"), dur("attr-timeout"), dur("negative-timeout")
	out.LogFormat, out.MetricsAddr = get("log-format"), get("metrics-addr")
	out.ReadAheadKB = int(size("read-ahead-kb") >> 10)
	out.PrefetchBudget = size("prefetch-budget")
	out.CacheDir, out.CacheSize = get("cache-dir"), size("cache-size")
	if out.CacheDir == "" && out.From["cache-size"] != FromDefault {
		s, _ := lookup("cache-size")
		v, l := first(layers, "cache-size")
		return Settings{}, usage("%s: a cache size needs --cache-dir (-o cache_dir=DIR)", where(s, l, v))
	}
	return out, nil
}

// takes reports whether the command takes the setting.
func (in Input) takes(s Setting) bool { return s.Scope == Backend || in.Scope == Mount }

// first is the strongest layer's value of a setting.
func first(layers [unset]values, name string) (string, Layer) {
	for l := FromFlag; l < unset; l++ {
		if v, ok := layers[l][name]; ok {
			return v, l
		}
	}
	return "", unset
}

// where says a value as the user wrote it.
func where(s Setting, l Layer, v string) string {
	switch l {
	case FromFlag:
		return fmt.Sprintf("--%s %q", s.Name, v)
	case FromEnv:
		return fmt.Sprintf("$%s=%q", s.Env(), v)
	case FromOption:
		return fmt.Sprintf("-o %s=%s", s.Opt(), v)
	}
	return fmt.Sprintf("%s %q (%s)", s.Name, v, l)
}

func orFalse(v string) string {
	if v == "" {
		return "false"
	}
	return v
}

// credentialsFor fills the S3 credentials: a credentials file named by a
// setting, else the environment, else the Piri config.
func credentialsFor(s *node.S3, file string, env func(string) string, piri *node.S3) error {
	switch {
	case file != "":
		if _, err := os.Stat(file); err != nil {
			return fmt.Errorf("s3 credentials file: %w", err)
		}
		v, err := credentials.NewFileAWSCredentials(file, env("AWS_PROFILE")).GetWithContext(nil)
		if err != nil || v.AccessKeyID == "" {
			// The error may quote the file's lines: say only where.
			return fmt.Errorf("s3 credentials file %s: no access key for profile %q", file, profileName(env))
		}
		s.AccessKeyID, s.SecretAccessKey = v.AccessKeyID, v.SecretAccessKey
	case env("AWS_ACCESS_KEY_ID") != "":
		s.AccessKeyID, s.SecretAccessKey = env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")
	case piri != nil:
		s.AccessKeyID, s.SecretAccessKey = piri.AccessKeyID, piri.SecretAccessKey
	}
	return nil
}

func profileName(env func(string) string) string {
	if p := env("AWS_PROFILE"); p != "" {
		return p
	}
	return "default"
}
