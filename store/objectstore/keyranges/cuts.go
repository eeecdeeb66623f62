package keyranges

import (
	"bytes"
	"unicode/utf8"
)

// Cut points are made of printable ASCII, so that each is a valid UTF-8
// StartAfter whatever the keys hold; end stands for the end of a key
// (below every byte of one), top for no bound.
const (
	end = 0x1f
	top = 0x7f
)

// between is a key m with a < m, and m < hi unless open: the midpoint
// of the two at the first byte where they differ, or, where those bytes
// are adjacent, a byte above a's at the next. ok is false where no such
// key of printable ASCII follows a's bytes (a's byte there is not ASCII,
// or hi follows a too closely).
func between(a, hi string, open bool) (m string, ok bool) {
	for i := 0; i <= len(a); i++ {
		if !open {
			if i == len(hi) {
				return "", false // hi is a prefix of a: not above it
			}
			if i < len(a) && a[i] == hi[i] {
				continue
			}
		}
		da := end
		if i < len(a) {
			da = int(a[i])
		}
		if da >= top {
			return "", false // a[:i] may end inside a UTF-8 sequence
		}
		db := top
		if !open {
			db = min(int(hi[i]), top)
		}
		switch {
		case db-da >= 2:
			return a[:i] + string(rune((da+db)/2)), true
		case db <= da || i == len(a):
			return "", false // hi is not above a, or only hi[i] = ' ' is
		}
		open = true // m[i] = a[i] < hi[i]: hi bounds no later byte
	}
	return "", false
}

// scale reads keys as numbers, for ahead. Each byte that a page's keys
// hold where they part (and up to 16 places on) is a digit, in byte
// order, above 0 for the end of a key: numbers keep key order, and count
// the space between keys in the keys' own alphabet. (Numbers of all 256
// bytes said a page of base-32 keys that crosses from '7' to 'a' spans 5
// times as many keys as it does; digits of each place apart, read from
// a page that saw a few of them at the place where its keys part, made
// counts carry too soon.)
type scale struct {
	at     int // the first place: two before the keys part, for carries
	places int
	digits []byte
	rank   [256]uint8 // 1 + the index of the greatest digit ≤ the byte; 0 below all
	base   uint64
	limit  uint64 // base^places, < 2^62
}

const maxPlaces = 16

// newScale is the scale of a page of keys, in key order.
func newScale(page []string) (*scale, bool) {
	first, last := page[0], page[len(page)-1]
	p := 0
	for p < len(first) && p < len(last) && first[p] == last[p] {
		p++
	}
	sc := &scale{at: max(0, p-2), limit: 1}
	var used [256]bool
	for _, k := range page {
		for i := p; i < min(len(k), p+maxPlaces); i++ {
			used[k[i]] = true
		}
	}
	for b := range 256 {
		if used[b] {
			sc.digits = append(sc.digits, byte(b))
		}
		sc.rank[b] = uint8(min(len(sc.digits), 255))
	}
	if len(sc.digits) == 0 || len(sc.digits) > 254 {
		return nil, false
	}
	sc.base = uint64(len(sc.digits)) + 1
	for sc.places < maxPlaces && sc.limit <= (1<<62)/sc.base {
		sc.limit *= sc.base
		sc.places++
	}
	return sc, true
}

func (sc *scale) number(s string) uint64 {
	var n uint64
	for i := sc.at; i < sc.at+sc.places; i++ {
		d := uint64(0)
		if i < len(s) {
			d = uint64(sc.rank[s[i]])
		}
		n = n*sc.base + d
	}
	return n
}

// key writes n's digits after prefix, without trailing zeros (ends of
// key); a zero inside is written as the least digit, just above it.
func (sc *scale) key(prefix string, n uint64) string {
	b := make([]byte, sc.places)
	for i := sc.places - 1; i >= 0; i-- {
		if d := n % sc.base; d > 0 {
			b[i] = sc.digits[d-1]
		}
		n /= sc.base
	}
	b = bytes.TrimRight(b, "\x00")
	for i := range b {
		if b[i] == 0 {
			b[i] = sc.digits[0]
		}
	}
	return prefix + string(b)
}

// ahead is a key about k pages' worth of keys past cur, on the scale of
// a page (first and last are its ends): where a range is cut so that
// its lower part holds about k pages. ok is false where the page says
// nothing of cur (they part before the page's places begin), the count
// runs past the places, or the key is not valid UTF-8.
func (sc *scale) ahead(cur string, first, last string, k float64) (string, bool) {
	if len(cur) < sc.at || cur[:sc.at] != first[:sc.at] {
		return "", false
	}
	f, l, c := sc.number(first), sc.number(last), sc.number(cur)
	if l <= f {
		return "", false
	}
	step := k * float64(l-f)
	if step < 1 || float64(c)+step >= float64(sc.limit) {
		return "", false
	}
	m := sc.key(cur[:sc.at], c+uint64(step))
	if m <= cur || !utf8.ValidString(m) {
		return "", false
	}
	return m, true
}
