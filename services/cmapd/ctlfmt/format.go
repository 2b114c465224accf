// Package ctlfmt renders cmap keys, values and tracker events exactly as
// Debian's corosync-cmapctl 3.1.7 prints them, and parses -s values the
// way it does (sscanf), so a Go cmapctl is byte-for-byte compatible.
// Every rendering rule here was checked against the real tool; the
// recordings are in ../testdata/real/cmapctl*.txt.
package ctlfmt

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// Options are the output switches of corosync-cmapctl.
type Options struct {
	Binary bool // -b: print binary values
	Quiet  bool // -q: print values only
}

// Tracker event codes (CMAP_TRACK_*).
const (
	EventDelete int32 = 1
	EventModify int32 = 2
	EventAdd    int32 = 4
)

// TrackBanner is printed once when tracking starts.
const TrackBanner = "Type \"q\" to finish\n"

// Line renders one key as print_key does, newline included:
// "KEY (TYPE) = VALUE". Quirks kept from the C tool: a binary value
// without -b prints "KEY (bin)"; in quiet mode a binary value still prints
// "bin)" (and " = …" with -b); a type code outside 1..12 prints "KEY (".
func Line(key string, v value.Value, o Options) string {
	var sb strings.Builder
	if !o.Quiet {
		sb.WriteString(key)
		sb.WriteString(" (")
	}
	if name := v.Type.Name(); name != "" {
		switch {
		case v.Type == value.Binary:
			sb.WriteString("bin)")
			if o.Binary {
				sb.WriteString(" = ")
				sb.WriteString(Binary(v.Data))
			}
		case o.Quiet:
			sb.WriteString(Value(v))
		default:
			sb.WriteString(name)
			sb.WriteString(") = ")
			sb.WriteString(Value(v))
		}
	}
	sb.WriteByte('\n')
	return sb.String()
}

// Event renders a tracker notification: "create> " and "modify> " show the
// new value, "delete> " the old one. An unknown event prints only
// "unknown change> " without a newline, as the C tool does.
func Event(kind int32, key string, newV, oldV value.Value, o Options) string {
	switch kind {
	case EventAdd:
		return "create> " + Line(key, newV, o)
	case EventDelete:
		return "delete> " + Line(key, oldV, o)
	case EventModify:
		return "modify> " + Line(key, newV, o)
	}
	return "unknown change> "
}

// raw returns the value's bytes padded or cut to the type's size, like
// the C tool's read through a typed pointer.
func raw(v value.Value) []byte {
	b := make([]byte, 8)
	copy(b, v.Data)
	return b
}

// Value renders a non-binary value: integers in decimal, flt and dbl with
// printf's %f, strings up to their first NUL.
func Value(v value.Value) string {
	b := raw(v)
	ne := binary.NativeEndian
	switch v.Type {
	case value.Int8:
		return strconv.FormatInt(int64(int8(b[0])), 10)
	case value.Uint8:
		return strconv.FormatUint(uint64(b[0]), 10)
	case value.Int16:
		return strconv.FormatInt(int64(int16(ne.Uint16(b))), 10)
	case value.Uint16:
		return strconv.FormatUint(uint64(ne.Uint16(b)), 10)
	case value.Int32:
		return strconv.FormatInt(int64(int32(ne.Uint32(b))), 10)
	case value.Uint32:
		return strconv.FormatUint(uint64(ne.Uint32(b)), 10)
	case value.Int64:
		return strconv.FormatInt(int64(ne.Uint64(b)), 10)
	case value.Uint64:
		return strconv.FormatUint(ne.Uint64(b), 10)
	case value.Float:
		return PrintfF(float64(math.Float32frombits(ne.Uint32(b))))
	case value.Double:
		return PrintfF(math.Float64frombits(ne.Uint64(b)))
	case value.String:
		s, _ := v.AsString()
		return s
	}
	return ""
}

// PrintfF is glibc's "%f": six decimals, the exact binary value rounded,
// and "inf", "-inf", "nan", "-nan" (the sign of a NaN is kept).
func PrintfF(x float64) string {
	switch {
	case math.IsNaN(x):
		if math.Signbit(x) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	return strconv.FormatFloat(x, 'f', 6, 64)
}

// Binary renders bytes as print_binary_key with -b: printable ASCII as
// is, a backslash doubled, other bytes as \xHH. The C code formats a
// signed char, so bytes 0x80–0xFF come out sign-extended, e.g. \xFFFFFF80
// (verified on 3.1.7). No bytes print nothing.
func Binary(b []byte) string {
	var sb strings.Builder
	const hex = "0123456789ABCDEF"
	for _, c := range b {
		switch {
		case c == '\\':
			sb.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			sb.WriteString(`\x`)
			if c >= 0x80 {
				sb.WriteString("FFFFFF")
			}
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&0xf])
		}
	}
	return sb.String()
}

// Error messages of corosync-cmapctl (each ends in a newline, to stderr).

// GetKeyError is -g's message for a key it cannot read.
func GetKeyError(key string, err cs.Error) string {
	return "Can't get key " + key + ". Error " + err.Strerror() + "\n"
}

// GetValueError is the message when the typed read after a probe fails.
func GetValueError(key string, err cs.Error) string {
	return "Can't get value of " + key + ". Error " + err.Strerror() + "\n"
}

// SetError is -s's message for a refused set.
func SetError(key string, err cs.Error) string {
	return "Failed to set key " + key + ". Error " + err.Strerror() + "\n"
}

// DeleteError is -d's and -D's message for a refused delete.
func DeleteError(key string, err cs.Error) string {
	return "Can't delete key " + key + ". Error " + err.Strerror() + "\n"
}

// IterError is printed when an iteration cannot start (exit 1).
func IterError(err cs.Error) string {
	return "Failed to initialize iteration. Error " + err.Strerror() + "\n"
}

// TrackError is printed when a tracker cannot be added (exit 1).
func TrackError(err cs.Error) string {
	return "Failed to add tracking function. Error " + err.Strerror() + "\n"
}

// InitError is printed when the connection cannot be set up (exit 1).
func InitError(err cs.Error) string {
	return "Failed to initialize the cmap API. Error " + err.Strerror() + "\n"
}
