// Package mountopts is the one place user input becomes mount options: the
// -o lists of `storefs mount` and of mount(8)/fstab, the mount-helper
// argument form (`storefs SOURCE MOUNTPOINT -o OPTS`), and SOURCE strings.
package mountopts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/storacha/storefs/store/config"
)

// Options are what -o can set.
type Options struct {
	AllowOther         bool
	DefaultPermissions bool
	Debug              bool
	Verify             bool
	UID, GID           *uint32
	Timeout            time.Duration // per backend request; 0: the default
	EntryTimeout       time.Duration // record files' entry/attr timeout; 0: default
	NegativeTimeout    time.Duration
	Insecure           bool // plain http for an s3:// SOURCE
}

// ErrUsage is matched by every parse error: the caller exits with 2.
var ErrUsage = errors.New("usage")

func usage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// ignored are generic mount(8) options that mean nothing to a read-only
// FUSE filesystem, or that mount(8) and mount.fuse handle themselves; fstab
// lines carry them, so they are accepted.
var ignored = map[string]bool{
	"ro": true, "rw": true, "defaults": true, "dev": true, "nodev": true, "suid": true, "nosuid": true,
	"exec": true, "noexec": true, "auto": true, "noauto": true, "user": true, "nouser": true, "users": true,
	"async": true, "sync": true, "atime": true, "noatime": true, "relatime": true, "strictatime": true,
	"nodiratime": true, "diratime": true, "_netdev": true, "nofail": true, "owner": true, "group": true,
}

// Parse applies a comma-separated -o list to o.
func Parse(list string, o *Options) error {
	for _, opt := range strings.Split(list, ",") {
		opt = strings.TrimSpace(opt)
		if opt == "" || ignored[opt] || strings.HasPrefix(opt, "x-") || strings.HasPrefix(opt, "comment=") ||
			strings.HasPrefix(opt, "fsname=") || strings.HasPrefix(opt, "subtype=") {
			continue
		}
		name, val, hasVal := strings.Cut(opt, "=")
		flag := func() error {
			if hasVal {
				return usage("option %q takes no value", name)
			}
			return nil
		}
		var err error
		switch name {
		case "allow_other":
			err, o.AllowOther = flag(), true
		case "default_permissions":
			err, o.DefaultPermissions = flag(), true
		case "debug":
			err, o.Debug = flag(), true
		case "verify":
			err, o.Verify = flag(), true
		case "insecure":
			err, o.Insecure = flag(), true
		case "uid", "gid":
			n, perr := strconv.ParseUint(val, 10, 32)
			if !hasVal || perr != nil {
				return usage("option %s=%q: want a number", name, val)
			}
			id := uint32(n)
			if name == "uid" {
				o.UID = &id
			} else {
				o.GID = &id
			}
		case "timeout", "entry_timeout", "attr_timeout", "negative_timeout":
			d, derr := parseDuration(val)
			if !hasVal || derr != nil {
				return usage("option %s=%q: want a duration (30s, 1m) or seconds", name, val)
			}
			switch name {
			case "timeout":
				o.Timeout = d
			case "negative_timeout":
				o.NegativeTimeout = d
			default:
				o.EntryTimeout = d
			}
		default:
			return usage("unknown mount option %q (known: allow_other, default_permissions, uid=, gid=, debug, verify, timeout=, entry_timeout=, attr_timeout=, negative_timeout=, insecure, ro)", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parseDuration takes Go durations, or plain seconds as FUSE tools do.
func parseDuration(s string) (time.Duration, error) {
	if secs, err := strconv.ParseFloat(s, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

// Helper is the mount-helper form mount(8) runs for `mount -t fuse.storefs
// SOURCE MOUNTPOINT -o OPTS` (through mount.fuse3): positional SOURCE and
// MOUNTPOINT, then -o lists.
type Helper struct {
	Source, Mountpoint string
	Options            []string
}

// ParseHelper reads the helper form from args (without the program name).
func ParseHelper(args []string) (Helper, error) {
	var h Helper
	var pos []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-o":
			if i+1 >= len(args) {
				return h, usage("-o needs an option list")
			}
			h.Options = append(h.Options, args[i+1])
			i++
		case strings.HasPrefix(a, "-o") && len(a) > 2:
			h.Options = append(h.Options, a[2:])
		case a == "-n" || a == "-s" || a == "-f" || a == "-v": // mount.fuse passes these through
		case strings.HasPrefix(a, "-"):
			return h, usage("unknown helper flag %q", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		return h, usage("want SOURCE MOUNTPOINT [-o OPTS], got %d positional arguments", len(pos))
	}
	h.Source, h.Mountpoint = pos[0], pos[1]
	return h, nil
}

// Source turns a SOURCE into a backend configuration: a Piri config file
// (*.toml), s3://PREFIX@HOST:PORT (credentials from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY), or a data_dir path.
func Source(src string, o Options, env func(string) string) (config.Config, error) {
	switch {
	case strings.HasPrefix(src, "s3://"):
		rest := strings.TrimPrefix(src, "s3://")
		prefix, endpoint, ok := strings.Cut(rest, "@")
		if !ok {
			prefix, endpoint = "", rest
		}
		if endpoint == "" || strings.Contains(endpoint, "/") {
			return config.Config{}, usage("source %q: want s3://PREFIX@HOST:PORT", src)
		}
		return config.Config{S3: &config.S3{
			Endpoint: endpoint, BucketPrefix: prefix, Insecure: o.Insecure,
			AccessKeyID: env("AWS_ACCESS_KEY_ID"), SecretAccessKey: env("AWS_SECRET_ACCESS_KEY"),
		}}, nil
	case strings.HasSuffix(src, ".toml"):
		return config.LoadPiri(src)
	case src == "":
		return config.Config{}, usage("empty source")
	}
	return config.Config{DataDir: src}, nil
}
