package mountopts

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParseSize reads a size: a number with K, M or G (powers of 1024; KiB,
// MiB, GiB and a trailing B are accepted too), or a bare number of unit
// bytes.
func ParseSize(s string, unit int64) (int64, error) {
	t := strings.TrimSpace(s)
	mult := unit
	lower := strings.ToLower(t)
	for _, suf := range []struct {
		text string
		mult int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(lower, suf.text) {
			t, mult = strings.TrimSpace(t[:len(t)-len(suf.text)]), suf.mult
			break
		}
	}
	n, err := strconv.ParseUint(t, 10, 63)
	if err != nil || t == "" {
		return 0, fmt.Errorf("want a size (512, 64M, 1G)")
	}
	if n > uint64(math.MaxInt64/mult) {
		return 0, fmt.Errorf("too large")
	}
	return int64(n) * mult, nil
}

// parseDuration takes Go durations, or plain seconds as FUSE tools do.
func parseDuration(s string) (time.Duration, error) {
	if secs, err := strconv.ParseFloat(s, 64); err == nil && secs >= 0 && secs < math.MaxInt64/float64(time.Second) {
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration (30s, 1m, or seconds)")
	}
	return d, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("want true or false")
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("want a number")
	}
	return uint32(n), nil
}

// check parses a value of the setting's kind, and checks its minimum.
func (s Setting) check(val string) error {
	switch s.Kind {
	case Bool:
		_, err := parseBool(val)
		return err
	case ID:
		_, err := parseID(val)
		return err
	case Size:
		n, err := ParseSize(val, s.Unit)
		if err == nil && n < s.Min {
			err = fmt.Errorf("below the smallest that works, %s", sizeText(s.Min))
		}
		return err
	case Duration:
		d, err := parseDuration(val)
		if err == nil && int64(d) < s.Min {
			err = fmt.Errorf("want more than 0")
		}
		return err
	}
	if len(s.Choices) > 0 && !slices.Contains(s.Choices, val) {
		return fmt.Errorf("want %s", strings.Join(s.Choices, " or "))
	}
	return nil
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dG", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// assign puts a value check accepted where dst points: a *bool,
// *string, *time.Duration, *uint32, *int64 (a Size in bytes) or *int (a
// Size counted in Units).
func (s Setting) assign(dst any, val string) {
	switch d := dst.(type) {
	case *bool:
		*d, _ = parseBool(val)
	case *string:
		*d = val
	case *time.Duration:
		*d, _ = parseDuration(val)
	case *uint32:
		*d, _ = parseID(val)
	case *int64:
		*d, _ = ParseSize(val, s.Unit)
	case *int:
		n, _ := ParseSize(val, s.Unit)
		*d = int(n / s.Unit)
	default:
		panic(fmt.Sprintf("mountopts: setting %s has a destination of type %T", s.Name, dst))
	}
}
