package mountopts

import (
	"slices"
	"strings"
)

// ignored are generic mount(8) options that mean nothing to a read-only
// FUSE filesystem, or that mount(8) and mount.fuse handle themselves; fstab
// lines carry them, so they are accepted.
var ignored = map[string]bool{
	"ro": true, "rw": true, "defaults": true, "dev": true, "nodev": true, "suid": true, "nosuid": true,
	"exec": true, "noexec": true, "auto": true, "noauto": true, "user": true, "nouser": true, "users": true,
	"async": true, "sync": true, "atime": true, "noatime": true, "relatime": true, "strictatime": true,
	"nodiratime": true, "diratime": true, "_netdev": true, "nofail": true, "owner": true, "group": true,
}

// parseList reads one comma-separated -o list into vals (by setting
// Name); selectors records the backend selectors it names.
func parseList(list string, vals values, selectors map[string]bool) error {
	for _, opt := range strings.Split(list, ",") {
		opt = strings.TrimSpace(opt)
		if opt == "" || ignored[opt] || strings.HasPrefix(opt, "x-") || strings.HasPrefix(opt, "comment=") ||
			strings.HasPrefix(opt, "fsname=") || strings.HasPrefix(opt, "subtype=") {
			continue
		}
		name, val, hasVal := strings.Cut(opt, "=")
		if slices.Contains(credentialOpts, name) {
			return CredentialError("-o " + name)
		}
		s, ok := lookup(name)
		if !ok {
			return usage("unknown -o option %q (the options are: %s)", opt, strings.Join(OptNames(), ", "))
		}
		switch {
		case s.Kind == Bool && hasVal:
			return usage("option %s takes no value (write -o %s)", name, name)
		case s.Kind == Bool:
			val = "true"
		case !hasVal || (val == "" && s.Kind != String):
			return usage("option %s needs a value (%s=%s)", name, name, s.ValueName)
		}
		vals[s.Name] = val
		if s.Selects {
			selectors[s.Name] = true
		}
	}
	return nil
}

// OptNames are the -o names of every setting, in table order.
func OptNames() []string {
	var out []string
	for _, s := range Table {
		out = append(out, s.Opt())
	}
	return out
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

// Source reads a SOURCE as the settings it stands for: a Piri config
// file (*.toml: config), s3://PREFIX@HOST:PORT (s3-endpoint and
// s3-bucket-prefix), or a data_dir path (data-dir).
func Source(src string) (map[string]string, error) {
	switch {
	case strings.HasPrefix(src, "s3://"):
		prefix, endpoint, ok := strings.Cut(strings.TrimPrefix(src, "s3://"), "@")
		if !ok {
			prefix, endpoint = "", prefix
		}
		if endpoint == "" || strings.Contains(endpoint, "/") {
			return nil, usage("source %q: want s3://PREFIX@HOST:PORT", src)
		}
		return map[string]string{"s3-endpoint": endpoint, "s3-bucket-prefix": prefix}, nil
	case strings.HasSuffix(src, ".toml"):
		return map[string]string{"config": src}, nil
	case src == "":
		return nil, usage("empty source")
	}
	return map[string]string{"data-dir": src}, nil
}
