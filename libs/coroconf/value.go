package coroconf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Type is a cmap value type; the numbers are the wire codes of cmap.md §3.
type Type uint8

// The cmap value types.
const (
	TypeI8  Type = 1
	TypeU8  Type = 2
	TypeI16 Type = 3
	TypeU16 Type = 4
	TypeI32 Type = 5
	TypeU32 Type = 6
	TypeI64 Type = 7
	TypeU64 Type = 8
	TypeFlt Type = 9
	TypeDbl Type = 10
	TypeStr Type = 11
	TypeBin Type = 12
)

var typeNames = [...]string{"", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "flt", "dbl", "str", "bin"}

// String returns the corosync-cmapctl name of the type (u32, str, …).
func (t Type) String() string {
	if int(t) < len(typeNames) && t != 0 {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Value is one typed cmap value. Signed integers live in Int, unsigned in
// Uint, flt/dbl in Float, str in Str and bin in Bin; the other fields are zero.
type Value struct {
	Type  Type
	Int   int64
	Uint  uint64
	Float float64
	Str   string
	Bin   []byte
}

// Str returns a string value.
func Str(s string) Value { return Value{Type: TypeStr, Str: s} }

// U8 returns a u8 value.
func U8(v uint8) Value { return Value{Type: TypeU8, Uint: uint64(v)} }

// U16 returns a u16 value.
func U16(v uint16) Value { return Value{Type: TypeU16, Uint: uint64(v)} }

// U32 returns a u32 value.
func U32(v uint32) Value { return Value{Type: TypeU32, Uint: uint64(v)} }

// U64 returns a u64 value.
func U64(v uint64) Value { return Value{Type: TypeU64, Uint: v} }

// I32 returns an i32 value.
func I32(v int32) Value { return Value{Type: TypeI32, Int: int64(v)} }

// U32Value returns the value as a u32 and whether it has that type, like
// icmap_get_uint32 which fails on any other type.
func (v Value) U32Value() (uint32, bool) {
	if v.Type != TypeU32 {
		return 0, false
	}
	return uint32(v.Uint), true
}

// String formats the value the way corosync-cmapctl prints it (bin as with -b).
func (v Value) String() string {
	switch v.Type {
	case TypeI8, TypeI16, TypeI32, TypeI64:
		return strconv.FormatInt(v.Int, 10)
	case TypeU8, TypeU16, TypeU32, TypeU64:
		return strconv.FormatUint(v.Uint, 10)
	case TypeFlt:
		return strconv.FormatFloat(float64(float32(v.Float)), 'f', 6, 32)
	case TypeDbl:
		if math.IsInf(v.Float, 0) || math.IsNaN(v.Float) {
			return strings.ToLower(strconv.FormatFloat(v.Float, 'f', 6, 64))
		}
		return strconv.FormatFloat(v.Float, 'f', 6, 64)
	case TypeStr:
		return v.Str
	case TypeBin:
		return formatBin(v.Bin)
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
func FormatEntry(key string, v Value) string {
	return key + " (" + v.Type.String() + ") = " + v.String()
}
