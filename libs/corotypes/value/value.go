// Package value is a cmap value as Corosync stores and transmits it: a
// type code and the raw bytes in native byte order (spec/cmap.md §3).
// Keeping the bytes, not a decoded number, makes the wire, the store and
// the tracker events carry exactly what a C client would see.
package value

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// MaxLen is the longest value a set accepts (ICMAP_MAX_VALUE_LEN).
const MaxLen = 16 * 1024

// Type is a cmap value type code (cmap_value_types_t). None (0) marks an
// absent value in tracker events and config_version items.
type Type uint8

// The value types and their wire codes.
const (
	None   Type = 0
	Int8   Type = 1
	Uint8  Type = 2
	Int16  Type = 3
	Uint16 Type = 4
	Int32  Type = 5
	Uint32 Type = 6
	Int64  Type = 7
	Uint64 Type = 8
	Float  Type = 9
	Double Type = 10
	String Type = 11
	Binary Type = 12
)

var typeNames = [...]string{"", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "flt", "dbl", "str", "bin"}

// Name is the corosync-cmapctl name of the type (i8 … bin), "" for codes
// outside 1..12.
func (t Type) Name() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return ""
}

// String is the type's name, or "type(N)" for codes outside 1..12.
func (t Type) String() string {
	if n := t.Name(); n != "" {
		return n
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType maps a cmapctl type name back to its code.
func ParseType(name string) (Type, bool) {
	for i := 1; i < len(typeNames); i++ {
		if typeNames[i] == name {
			return Type(i), true
		}
	}
	return None, false
}

// Size is the stored size of a fixed-size type, and 0 for str, bin and
// codes outside 1..12 (icmap_get_valuetype_len).
func (t Type) Size() int {
	switch t {
	case Int8, Uint8:
		return 1
	case Int16, Uint16:
		return 2
	case Int32, Uint32, Float:
		return 4
	case Int64, Uint64, Double:
		return 8
	}
	return 0
}

// Value is one typed value. For String, Data holds the stored form: the
// characters and one terminating NUL.
type Value struct {
	Type Type
	Data []byte
}

// IsZero reports an absent value (type None, no bytes).
func (v Value) IsZero() bool { return v.Type == None && len(v.Data) == 0 }

// Equal compares type and bytes, as icmap does before a set.
func (v Value) Equal(o Value) bool { return v.Type == o.Type && bytes.Equal(v.Data, o.Data) }

// Clone returns a copy that shares no bytes with v.
func (v Value) Clone() Value {
	if v.Data == nil {
		return Value{Type: v.Type}
	}
	return Value{Type: v.Type, Data: append([]byte(nil), v.Data...)}
}

// New validates raw set input and returns the stored form, with the rules
// of icmap_set: at most MaxLen bytes; fixed-size types need exactly their
// size (codes outside 1..12 count as size 0, so Corosync accepts them with
// no bytes, and so do we); a string is cut at its first NUL and stored with
// one NUL, and bytes after that NUL other than the NUL itself are refused.
// The string scan is bounded by data, where Corosync reads past the value.
func New(t Type, data []byte) (Value, cs.Error) {
	if len(data) > MaxLen {
		return Value{}, cs.ErrInvalidParam
	}
	switch t {
	case String:
		n := bytes.IndexByte(data, 0)
		if n < 0 {
			n = len(data)
		} else if len(data) > n+1 {
			return Value{}, cs.ErrInvalidParam
		}
		s := make([]byte, n+1)
		copy(s, data[:n])
		return Value{Type: String, Data: s}, cs.OK
	case Binary:
		return Value{Type: Binary, Data: append([]byte{}, data...)}, cs.OK
	}
	if len(data) != t.Size() {
		return Value{}, cs.ErrInvalidParam
	}
	return Value{Type: t, Data: append([]byte{}, data...)}, cs.OK
}

// Adjust adds step to an integer value with wrap-around in its own width
// (signed and unsigned alike, as icmap_adjust_int); other types give
// CS_ERR_INVALID_PARAM.
func (v Value) Adjust(step int32) (Value, cs.Error) {
	ne := binary.NativeEndian
	d := make([]byte, len(v.Data))
	copy(d, v.Data)
	if len(d) != v.Type.Size() {
		return Value{}, cs.ErrInvalidParam
	}
	switch v.Type {
	case Int8, Uint8:
		d[0] += uint8(step)
	case Int16, Uint16:
		ne.PutUint16(d, ne.Uint16(d)+uint16(step))
	case Int32, Uint32:
		ne.PutUint32(d, ne.Uint32(d)+uint32(step))
	case Int64, Uint64:
		ne.PutUint64(d, ne.Uint64(d)+uint64(int64(step)))
	default:
		return Value{}, cs.ErrInvalidParam
	}
	return Value{Type: v.Type, Data: d}, cs.OK
}

// Constructors for the daemon's own writes.

// I8 returns an i8 value.
func I8(x int8) Value { return Value{Type: Int8, Data: []byte{byte(x)}} }

// U8 returns a u8 value.
func U8(x uint8) Value { return Value{Type: Uint8, Data: []byte{x}} }

// I16 returns an i16 value.
func I16(x int16) Value { return fixed(Int16, uint64(uint16(x))) }

// U16 returns a u16 value.
func U16(x uint16) Value { return fixed(Uint16, uint64(x)) }

// I32 returns an i32 value.
func I32(x int32) Value { return fixed(Int32, uint64(uint32(x))) }

// U32 returns a u32 value.
func U32(x uint32) Value { return fixed(Uint32, uint64(x)) }

// I64 returns an i64 value.
func I64(x int64) Value { return fixed(Int64, uint64(x)) }

// U64 returns a u64 value.
func U64(x uint64) Value { return fixed(Uint64, x) }

// F32 returns a flt value.
func F32(x float32) Value { return fixed(Float, uint64(math.Float32bits(x))) }

// F64 returns a dbl value.
func F64(x float64) Value { return fixed(Double, math.Float64bits(x)) }

// Str returns a string value in stored form; the string is cut at its first
// NUL as C would.
func Str(s string) Value {
	if i := bytes.IndexByte([]byte(s), 0); i >= 0 {
		s = s[:i]
	}
	d := make([]byte, len(s)+1)
	copy(d, s)
	return Value{Type: String, Data: d}
}

// Bin returns a binary value holding a copy of b.
func Bin(b []byte) Value { return Value{Type: Binary, Data: append([]byte{}, b...)} }

func fixed(t Type, x uint64) Value {
	d := make([]byte, t.Size())
	ne := binary.NativeEndian
	switch len(d) {
	case 1:
		d[0] = byte(x)
	case 2:
		ne.PutUint16(d, uint16(x))
	case 4:
		ne.PutUint32(d, uint32(x))
	case 8:
		ne.PutUint64(d, x)
	}
	return Value{Type: t, Data: d}
}

// Accessors, which like icmap_get_<type> insist on the exact type.

// AsUint returns the value of an unsigned integer of any width.
func (v Value) AsUint() (uint64, bool) {
	if len(v.Data) != v.Type.Size() {
		return 0, false
	}
	ne := binary.NativeEndian
	switch v.Type {
	case Uint8:
		return uint64(v.Data[0]), true
	case Uint16:
		return uint64(ne.Uint16(v.Data)), true
	case Uint32:
		return uint64(ne.Uint32(v.Data)), true
	case Uint64:
		return ne.Uint64(v.Data), true
	}
	return 0, false
}

// AsInt returns the value of a signed integer of any width.
func (v Value) AsInt() (int64, bool) {
	if len(v.Data) != v.Type.Size() {
		return 0, false
	}
	ne := binary.NativeEndian
	switch v.Type {
	case Int8:
		return int64(int8(v.Data[0])), true
	case Int16:
		return int64(int16(ne.Uint16(v.Data))), true
	case Int32:
		return int64(int32(ne.Uint32(v.Data))), true
	case Int64:
		return int64(ne.Uint64(v.Data)), true
	}
	return 0, false
}

// AsFloat returns a flt or dbl value.
func (v Value) AsFloat() (float64, bool) {
	if len(v.Data) != v.Type.Size() {
		return 0, false
	}
	ne := binary.NativeEndian
	switch v.Type {
	case Float:
		return float64(math.Float32frombits(ne.Uint32(v.Data))), true
	case Double:
		return math.Float64frombits(ne.Uint64(v.Data)), true
	}
	return 0, false
}

// AsString returns a string value without its terminating NUL (the bytes
// up to the first NUL, as C's %s would print them).
func (v Value) AsString() (string, bool) {
	if v.Type != String {
		return "", false
	}
	d := v.Data
	if i := bytes.IndexByte(d, 0); i >= 0 {
		d = d[:i]
	}
	return string(d), true
}

// U32Value returns a u32 value, like icmap_get_uint32 (any other type
// fails).
func (v Value) U32Value() (uint32, bool) {
	if v.Type != Uint32 {
		return 0, false
	}
	u, ok := v.AsUint()
	return uint32(u), ok
}

// U64Value returns a u64 value, like icmap_get_uint64 (any other type
// fails); the daemon reads totem.config_version this way.
func (v Value) U64Value() (uint64, bool) {
	if v.Type != Uint64 {
		return 0, false
	}
	return v.AsUint()
}
