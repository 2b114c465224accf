package ctlfmt

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// ParseSet turns the type and value arguments of `-s key type value` into
// the bytes the tool sends, with its checks and messages (newline
// included): "Unknown type T", "V is not valid T type value" when sscanf
// reads nothing, "V is not valid T integer" when out of range. Numbers are
// read like sscanf's %lld/%llu/%f/%lf: leading blanks, the longest valid
// prefix ("12abc" is 12, "0x10" is 0), saturation on overflow, and %llu
// negating "-1" to 2^64-1. Strings are sent without their NUL. For bin the
// value is a file name; use BinaryValue on its contents.
func ParseSet(typeName, text string) (value.Type, []byte, string) {
	t, ok := value.ParseType(typeName)
	if !ok {
		return 0, nil, "Unknown type " + typeName + "\n"
	}
	notValue := text + " is not valid " + typeName + " type value\n"
	notInt := text + " is not valid " + typeName + " integer\n"
	switch t {
	case value.Int8, value.Int16, value.Int32, value.Int64:
		n, ok := scanInt(text)
		if !ok {
			return 0, nil, notValue
		}
		bitsz := uint(t.Size() * 8)
		if bitsz < 64 && (n > 1<<(bitsz-1)-1 || n < -(1<<(bitsz-1))) {
			return 0, nil, notInt
		}
		return t, fixedBytes(t, uint64(n)), ""
	case value.Uint8, value.Uint16, value.Uint32, value.Uint64:
		n, ok := scanUint(text)
		if !ok {
			return 0, nil, notValue
		}
		if bitsz := uint(t.Size() * 8); bitsz < 64 && n > 1<<bitsz-1 {
			return 0, nil, notInt
		}
		return t, fixedBytes(t, n), ""
	case value.Float:
		f, ok := scanFloat(text, 32)
		if !ok {
			return 0, nil, notValue
		}
		return t, value.F32(float32(f)).Data, ""
	case value.Double:
		f, ok := scanFloat(text, 64)
		if !ok {
			return 0, nil, notValue
		}
		return t, value.F64(f).Data, ""
	case value.String:
		return t, []byte(text), ""
	}
	return value.Binary, nil, ""
}

// BinaryValue checks the contents of a -s bin file: libcmap refuses an
// empty one (its buffer pointer is NULL) with CS_ERR_INVALID_PARAM before
// sending anything.
func BinaryValue(contents []byte) ([]byte, cs.Error) {
	if len(contents) == 0 {
		return nil, cs.ErrInvalidParam
	}
	return contents, cs.OK
}

func fixedBytes(t value.Type, x uint64) []byte {
	switch t.Size() {
	case 1:
		return value.U8(uint8(x)).Data
	case 2:
		return value.U16(uint16(x)).Data
	case 4:
		return value.U32(uint32(x)).Data
	}
	return value.U64(x).Data
}

// skipSpace drops the characters C's isspace accepts.
func skipSpace(s string) string {
	return strings.TrimLeft(s, " \t\n\v\f\r")
}

// digits splits an optional sign and the decimal digits that follow.
func digits(s string) (neg bool, ds string, ok bool) {
	s = skipSpace(s)
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return neg, s[:n], n > 0
}

// scanInt is strtoll in base 10 with saturation.
func scanInt(s string) (int64, bool) {
	neg, ds, ok := digits(s)
	if !ok {
		return 0, false
	}
	u, over := accumulate(ds)
	switch {
	case !neg && (over || u > math.MaxInt64):
		return math.MaxInt64, true
	case neg && (over || u > 1<<63):
		return math.MinInt64, true
	case neg:
		return -int64(u), true
	}
	return int64(u), true
}

// scanUint is strtoull in base 10: overflow gives 2^64-1, a minus sign
// negates modulo 2^64.
func scanUint(s string) (uint64, bool) {
	neg, ds, ok := digits(s)
	if !ok {
		return 0, false
	}
	u, over := accumulate(ds)
	if over {
		return math.MaxUint64, true
	}
	if neg {
		return -u, true
	}
	return u, true
}

func accumulate(ds string) (uint64, bool) {
	var u uint64
	for i := 0; i < len(ds); i++ {
		hi, lo := bits.Mul64(u, 10)
		if hi != 0 {
			return 0, true
		}
		var c uint64
		u, c = bits.Add64(lo, uint64(ds[i]-'0'), 0)
		if c != 0 {
			return 0, true
		}
	}
	return u, false
}

// scanFloat reads the longest prefix strtod/strtof would: decimal or hex
// floats, inf/infinity, nan (a leading minus keeps the NaN's sign bit).
// Overflow gives ±inf as in C.
func scanFloat(s string, bitSize int) (float64, bool) {
	s = skipSpace(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || s[0] == '+' || s[0] == '-' || s[0] == '_' {
		return 0, false
	}
	for n := len(s); n > 0; n-- {
		p := s[:n]
		if strings.ContainsRune(p, '_') {
			continue
		}
		f, err := strconv.ParseFloat(p, bitSize)
		if err != nil && !isRange(err) && isHexMantissa(p) {
			// C takes a hex float without a binary exponent; Go wants "p".
			f, err = strconv.ParseFloat(p+"p0", bitSize)
		}
		if err != nil && !isRange(err) {
			continue
		}
		if neg {
			f = math.Copysign(f, -1)
		}
		return f, true
	}
	return 0, false
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func isHexMantissa(s string) bool {
	return len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && !strings.ContainsAny(s, "pP")
}

// ParseLine reads back one line of a cmapctl listing ("KEY (TYPE) =
// VALUE", without the newline) into the value it shows; binary values and
// lines without a value are refused. Integration tests use it to compare
// listings of different daemons.
func ParseLine(line string) (string, value.Value, error) {
	i := strings.Index(line, " (")
	j := strings.Index(line, ") = ")
	if i < 0 || j < i {
		return "", value.Value{}, fmt.Errorf("cmapctl line %q: no \"KEY (TYPE) = VALUE\"", line)
	}
	key, typ, text := line[:i], line[i+2:j], line[j+4:]
	t, ok := value.ParseType(typ)
	if !ok || t == value.Binary {
		return "", value.Value{}, fmt.Errorf("cmapctl line %q: type %q cannot be read back", line, typ)
	}
	if t == value.String {
		return key, value.Str(text), nil
	}
	t2, data, msg := ParseSet(typ, text)
	if msg != "" || t2 != t {
		return "", value.Value{}, fmt.Errorf("cmapctl line %q: %s", line, strings.TrimSpace(msg))
	}
	return key, value.Value{Type: t, Data: data}, nil
}
