package coroconf

import (
	"fmt"
	"math"

	cval "github.com/needle-cluster/needle/libs/corotypes/value"
)

// cSpace reports the characters C's isspace skips before a number.
func cSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// scanDigits parses what strtoll/strtoull accept in base 10: optional
// leading white space, one optional sign, then digits. It returns the
// magnitude (saturated), the sign, the number of bytes used (0 when no
// digit was found) and whether the magnitude overflowed uint64.
func scanDigits(s string) (mag uint64, neg bool, n int, overflow bool) {
	i := 0
	for i < len(s) && cSpace(s[i]) {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if mag > (math.MaxUint64-d)/10 {
			overflow = true
			mag = math.MaxUint64
		} else if !overflow {
			mag = mag*10 + d
		}
		i++
	}
	if i == start {
		return 0, false, 0, false
	}
	return mag, neg, i, overflow
}

// parseIntRange converts like Corosync's safe_atoq: base-10 strtoll, whole
// value consumed, result within [min, max].
func parseIntRange(s string, min, max int64) (int64, bool) {
	mag, neg, n, overflow := scanDigits(s)
	if n == 0 || n != len(s) || overflow {
		return 0, false
	}
	var v int64
	switch {
	case !neg && mag > math.MaxInt64, neg && mag > 1<<63:
		return 0, false // ERANGE
	case neg:
		v = -int64(mag-1) - 1
	default:
		v = int64(mag)
	}
	if v < min || v > max {
		return 0, false
	}
	return v, true
}

// parseUint64 converts like Corosync's str_to_ull (strtoull): a leading
// minus sign negates modulo 2^64, overflow is an error.
func parseUint64(s string) (uint64, bool) {
	mag, neg, n, overflow := scanDigits(s)
	if n == 0 || n != len(s) || overflow {
		return 0, false
	}
	if neg {
		return -mag, true
	}
	return mag, true
}

// intType describes a typed integer key: its cmap type and range.
type intType struct {
	typ      cval.Type
	min, max int64
}

var (
	tU8  = intType{cval.Uint8, 0, math.MaxUint8}
	tU16 = intType{cval.Uint16, 0, math.MaxUint16}
	tU32 = intType{cval.Uint32, 0, math.MaxUint32}
	tI32 = intType{cval.Int32, math.MinInt32, math.MaxInt32}
)

// convert parses value for key or returns Corosync's range message.
func (t intType) convert(key, value string) (cval.Value, error) {
	v, ok := parseIntRange(value, t.min, t.max)
	if !ok {
		return cval.Value{}, errString(fmt.Sprintf("Value of key \"%s\" is expected to be integer in range (%d..%d), but \"%s\" was given", key, t.min, t.max, value))
	}
	return intValue(t.typ, v), nil
}

// convertU64 parses a u64 key. Corosync 3.1.7 aborts on a bad value here
// (an assertion while formatting the message); we report a normal error
// with the full u64 range instead, as config.md §2.2 recommends.
func convertU64(key, value string) (cval.Value, error) {
	v, ok := parseUint64(value)
	if !ok {
		return cval.Value{}, errString(fmt.Sprintf("Value of key \"%s\" is expected to be integer in range (0..18446744073709551615), but \"%s\" was given", key, value))
	}
	return cval.U64(v), nil
}
