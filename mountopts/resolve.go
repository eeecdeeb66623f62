package mountopts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/storacha/storefs/fusefs"
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
	// Mount is what the mount is made of, as the table resolved it; the
	// command adds what is not a setting (its name, logger, metrics,
	// cache). Its OpTimeout is Store.Timeout: one setting bounds both.
	Mount fusefs.Config

	LogFormat, MetricsAddr string
	CacheDir               string
	CacheSize              int64 // bytes
	// CatalogDir holds the catalogues of what each blob is, one per
	// store (Store.Key).
	CatalogDir string

	// From says where each setting's value came from, by Name.
	From map[string]Layer
	// Found is the Piri config Discover used, "" when none.
	Found string
	// Warning says what a user should know of the backend chosen for
	// them (no backend named, none found), "" when nothing.
	Warning string
}

// Defaults are the settings of a mount nothing was set for: the table's
// defaults, an empty memory store.
func Defaults() Settings {
	s, err := Resolve(Input{Scope: Mount})
	if err != nil {
		panic("mountopts: the table's defaults do not resolve: " + err.Error())
	}
	return s
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

// layers are every layer's values, strongest first.
type layers [unset]values

// first is the strongest layer's value of a setting.
func (ls *layers) first(name string) (string, Layer) {
	for l := FromFlag; l < unset; l++ {
		if v, ok := ls[l][name]; ok {
			return v, l
		}
	}
	return "", unset
}

// Resolve applies flag > -o > environment > Piri config > default to in:
// it layers what was given, selects the backend (reading a Piri config
// into its layer), validates every value, then extracts them typed.
func Resolve(in Input) (Settings, error) {
	if in.Env == nil {
		in.Env = func(string) string { return "" }
	}
	ls, named, err := layer(in)
	if err != nil {
		return Settings{}, err
	}
	sel, err := selectBackend(in, &ls, named)
	if err != nil {
		return Settings{}, err
	}
	if err := validate(in, &ls, sel.s3()); err != nil {
		return Settings{}, err
	}
	return extract(in, &ls, sel)
}

// mention is a backend selector the user named, and how it was written
// (for the message when there are two).
type mention struct {
	s  Setting
	as string
}

// layer gathers each layer's values: flags, -o lists and the SOURCE,
// the environment, the defaults; and the backend selectors named.
func layer(in Input) (layers, []mention, error) {
	ls := layers{FromFlag: {}, FromOption: {}, FromEnv: {}, FromPiri: {}, FromDefault: {}}
	var named []mention
	for name, val := range in.Flags {
		s, ok := lookup(name)
		if !ok || s.Name != name || !in.takes(s) {
			return ls, nil, usage("--%s is not a setting of this command", name)
		}
		ls[FromFlag][s.Name] = val
		if s.Selects && !(s.Kind == Bool && val == "false") {
			named = append(named, mention{s, "--" + s.Name})
		}
	}
	optSelectors := map[string]bool{}
	for _, list := range in.Options {
		if in.Scope != Mount {
			return ls, nil, usage("-o is an option of mount only")
		}
		if err := parseList(list, ls[FromOption], optSelectors); err != nil {
			return ls, nil, err
		}
	}
	for name := range optSelectors {
		s, _ := lookup(name)
		named = append(named, mention{s, "-o " + s.Opt()})
	}
	if in.Source != "" {
		src, err := Source(in.Source)
		if err != nil {
			return ls, nil, err
		}
		var selects Setting
		for name, val := range src { // -o options beside it win
			if _, set := ls[FromOption][name]; !set {
				ls[FromOption][name] = val
			}
			if s, _ := lookup(name); s.Selects {
				selects = s
			}
		}
		named = append(named, mention{selects, "SOURCE " + in.Source})
	}
	for _, s := range Table {
		if in.takes(s) {
			if v := in.Env(s.Env()); v != "" {
				ls[FromEnv][s.Name] = v
			}
		}
		switch {
		case s.Default != "":
			ls[FromDefault][s.Name] = s.Default
		case s.dflt != nil:
			ls[FromDefault][s.Name] = s.dflt(in.Env)
		}
	}
	// With none on the command line (flags, -o, SOURCE), the
	// environment's selectors count.
	if len(named) == 0 {
		for _, s := range Table {
			if v, ok := ls[FromEnv][s.Name]; ok && s.Selects {
				if s.Kind == Bool {
					if on, _ := parseBool(v); !on {
						continue
					}
				}
				named = append(named, mention{s, "$" + s.Env()})
			}
		}
	}
	return ls, named, nil
}

// selection is the backend chosen.
type selection struct {
	kind           backendKind
	found, warning string
	// piri is the Piri config read, when the backend is one.
	piri node.Config
}

// backendKind is what a selector picks.
type backendKind int

const (
	memoryBackend backendKind = iota
	dataDirBackend
	s3Backend
	configBackend
)

func (s selection) s3() bool {
	return s.kind == s3Backend || (s.kind == configBackend && s.piri.S3 != nil)
}

// selectBackend picks exactly one backend: the one named, else (for
// commands that Discover) the first Piri config where Piri looks, else
// memory. A Piri config's values become the FromPiri layer.
func selectBackend(in Input, ls *layers, named []mention) (selection, error) {
	if len(named) > 1 {
		var as []string
		for _, m := range named {
			as = append(as, m.as)
		}
		slices.Sort(as)
		return selection{}, usage("name one backend, not %s", strings.Join(as, " and "))
	}
	var sel selection
	var path string
	switch {
	case len(named) == 1:
		sel.kind = named[0].s.backend
		path, _ = ls.first(named[0].s.Name)
	case in.Explicit:
		return selection{}, usage("name a backend (--data-dir, --s3-endpoint, --config or --memory): this command writes")
	case in.Discover:
		paths := in.ConfigPaths
		if paths == nil {
			paths = ConfigPaths()
		}
		for _, p := range paths {
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				sel.found = p
				break
			}
		}
		if sel.found == "" {
			sel.warning = fmt.Sprintf("no backend named and no Piri config found (looked in %s): showing an empty memory store", strings.Join(paths, ", "))
			break
		}
		sel.kind, path = configBackend, sel.found
	}
	if sel.kind != configBackend {
		return sel, nil
	}
	var err error
	if sel.piri, err = node.LoadPiri(path, in.Env); err != nil {
		if errors.Is(err, node.ErrBadConfig) {
			return selection{}, usage("%v", err)
		}
		return selection{}, err
	}
	for _, s := range Table {
		if s.piri == nil {
			continue
		}
		if v, ok := s.piri(sel.piri); ok {
			ls[FromPiri][s.Name] = v
		}
	}
	return sel, nil
}

// validate checks every value the command takes, as its kind reads it;
// an S3 setting written beside another backend is a mistake (in the
// environment it may be meant for another mount).
func validate(in Input, ls *layers, s3 bool) error {
	for _, s := range Table {
		if !s.s3Only || s3 {
			continue
		}
		_, byFlag := ls[FromFlag][s.Name]
		_, byOpt := ls[FromOption][s.Name]
		if byFlag || byOpt {
			return usage("--%s (-o %s) is an S3 setting: it needs --s3-endpoint, or a --config whose [repo] has s3", s.Name, s.Opt())
		}
	}
	for _, s := range Table {
		if !in.takes(s) {
			continue
		}
		if v, l := ls.first(s.Name); l != unset {
			if err := s.check(v); err != nil {
				return usage("%s: %v", where(s, l, v), err)
			}
		}
	}
	for _, s := range Table {
		if s.needs == "" || !in.takes(s) {
			continue
		}
		v, l := ls.first(s.Name)
		if need, _ := ls.first(s.needs); l != unset && l != FromDefault && need == "" {
			n, _ := lookup(s.needs)
			return usage("%s: needs --%s (-o %s=%s)", where(s, l, v), n.Name, n.Opt(), n.ValueName)
		}
	}
	return nil
}

// target is where extraction puts values: Settings, and the backend's
// values until they make its node.Config.
type target struct {
	out   *Settings
	store struct {
		dataDir, config, credentialsFile string
		s3                               node.S3
	}
}

// extract puts each value where its setting says (Setting.to), typed,
// then makes the backend's config.
func extract(in Input, ls *layers, sel selection) (Settings, error) {
	out := Settings{From: map[string]Layer{}, Found: sel.found, Warning: sel.warning}
	out.Mount.UID, out.Mount.GID = uint32(os.Getuid()), uint32(os.Getgid())
	t := &target{out: &out}
	for _, s := range Table {
		if !in.takes(s) {
			continue
		}
		v, l := ls.first(s.Name)
		if l == unset {
			continue
		}
		out.From[s.Name] = l
		if s.to != nil {
			s.assign(s.to(t), v)
		}
	}
	out.Mount.OpTimeout = out.Store.Timeout
	store := node.Config{Timeout: out.Store.Timeout}
	switch {
	case sel.s3():
		s3 := t.store.s3
		if err := credentialsFor(&s3, t.store.credentialsFile, in.Env, sel.piri.S3); err != nil {
			return Settings{}, err
		}
		store.S3 = &s3
		if sel.kind == configBackend {
			store.DataDir = sel.piri.DataDir // a node in S3 mode keeps local stores there
		}
	case sel.kind == dataDirBackend || sel.kind == configBackend:
		store.DataDir = t.store.dataDir
		if store.DataDir == "" {
			return Settings{}, usage("--data-dir: empty directory name")
		}
		if b := sel.piri.BlobBucket; b != nil {
			bucket := *b
			if bucket.AccessKeyID == "" {
				bucket.AccessKeyID, bucket.SecretAccessKey = in.Env("AWS_ACCESS_KEY_ID"), in.Env("AWS_SECRET_ACCESS_KEY")
			}
			store.BlobBucket = &bucket
		}
	}
	if sel.kind == configBackend {
		store.Postgres = sel.piri.Postgres
	}
	out.Store = store
	return out, nil
}

// takes reports whether the command takes the setting.
func (in Input) takes(s Setting) bool { return s.Scope == Backend || in.Scope == Mount }

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
