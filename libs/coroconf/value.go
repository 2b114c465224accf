package coroconf

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	cval "github.com/needle-cluster/needle/libs/corotypes/value"
)

// Values are libs/corotypes/value's: the one typed-value model that cmapd
// stores, the bus and the cmap wire carry and the service daemons read,
// so a parsed key goes into cmap unchanged (strings in stored form, with
// their terminating NUL; numbers in host byte order).

// intValue builds a value of an integer type from a number already checked
// against the type's range.
func intValue(t cval.Type, v int64) cval.Value {
	switch t {
	case cval.Uint8:
		return cval.U8(uint8(v))
	case cval.Uint16:
		return cval.U16(uint16(v))
	case cval.Uint32:
		return cval.U32(uint32(v))
	case cval.Uint64:
		return cval.U64(uint64(v))
	case cval.Int8:
		return cval.I8(int8(v))
	case cval.Int16:
		return cval.I16(int16(v))
	case cval.Int32:
		return cval.I32(int32(v))
	case cval.Int64:
		return cval.I64(v)
	}
	panic(fmt.Sprintf("coroconf: intValue of non-integer type %v", t))
}

// FormatValue renders a value the way `corosync -t` prints it: integers in
// decimal, flt and dbl with six decimals, strings as they are, bin as with
// corosync-cmapctl -b.
func FormatValue(v cval.Value) string {
	if i, ok := v.AsInt(); ok {
		return strconv.FormatInt(i, 10)
	}
	if u, ok := v.AsUint(); ok {
		return strconv.FormatUint(u, 10)
	}
	if f, ok := v.AsFloat(); ok {
		if v.Type == cval.Float {
			return strconv.FormatFloat(float64(float32(f)), 'f', 6, 32)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return strings.ToLower(strconv.FormatFloat(f, 'f', 6, 64))
		}
		return strconv.FormatFloat(f, 'f', 6, 64)
	}
	if s, ok := v.AsString(); ok {
		return s
	}
	if v.Type == cval.Binary {
		return formatBin(v.Data)
	}
	return ""
}

// formatBin renders bytes as cmapctl -b does: printable ASCII as is (with
// `\` doubled), everything else as \xHH, and "*empty*" for no bytes.
func formatBin(b []byte) string {
	if len(b) == 0 {
		return "*empty*"
	}
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c >= 0x20 && c <= 0x7e:
			sb.WriteByte(c)
		default:
			fmt.Fprintf(&sb, `\x%02X`, c)
		}
	}
	return sb.String()
}

// FormatEntry renders one key as a corosync-cmapctl line: `KEY (TYPE) = VALUE`.
func FormatEntry(key string, v cval.Value) string {
	return key + " (" + v.Type.String() + ") = " + FormatValue(v)
}
