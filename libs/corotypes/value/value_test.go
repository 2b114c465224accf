package value

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

func TestNew(t *testing.T) {
	big := []byte(strings.Repeat("a", MaxLen))
	for _, tc := range []struct {
		name string
		t    Type
		in   []byte
		want []byte
		err  cs.Error
	}{
		{"u32", Uint32, []byte{1, 2, 3, 4}, []byte{1, 2, 3, 4}, cs.OK},
		{"u32 short", Uint32, []byte{1, 2}, nil, cs.ErrInvalidParam},
		{"i8 long", Int8, []byte{1, 2}, nil, cs.ErrInvalidParam},
		{"dbl", Double, make([]byte, 8), make([]byte, 8), cs.OK},
		{"string without NUL (libcmap)", String, []byte("hello"), []byte("hello\x00"), cs.OK},
		{"string with its NUL", String, []byte("hi\x00"), []byte("hi\x00"), cs.OK},
		{"string NUL then more", String, []byte("hi\x00jk"), nil, cs.ErrInvalidParam},
		{"string two NULs", String, []byte("hi\x00\x00"), nil, cs.ErrInvalidParam},
		{"empty string", String, nil, []byte{0}, cs.OK},
		{"string of 16384 bytes stores 16385", String, big, append(append([]byte{}, big...), 0), cs.OK},
		{"binary 16384", Binary, big, big, cs.OK},
		{"binary 16385", Binary, append(big, 'a'), nil, cs.ErrInvalidParam},
		{"string 16385", String, append(big, 'a'), nil, cs.ErrInvalidParam},
		{"empty binary", Binary, nil, []byte{}, cs.OK},
		{"type 0 empty accepted", None, nil, []byte{}, cs.OK},
		{"type 13 empty accepted", Type(13), nil, []byte{}, cs.OK},
		{"type 13 with bytes", Type(13), []byte{1}, nil, cs.ErrInvalidParam},
	} {
		v, err := New(tc.t, tc.in)
		if err != tc.err || err == cs.OK && (v.Type != tc.t || !bytes.Equal(v.Data, tc.want)) {
			t.Errorf("%s: New = %v %x, %v; want %x, %v", tc.name, v.Type, v.Data, err, tc.want, tc.err)
		}
	}
}

func TestAdjust(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Value
		step int32
		want Value
		err  cs.Error
	}{
		{"i8 wraps", I8(127), 1, I8(-128), cs.OK},
		{"u8 wraps down", U8(0), -1, U8(255), cs.OK},
		{"i16", I16(-32768), -1, I16(32767), cs.OK},
		{"u32 big step", U32(10), -20, U32(math.MaxUint32 - 9), cs.OK},
		{"u64 wraps", U64(math.MaxUint64), 1, U64(0), cs.OK},
		{"i64 negative step", I64(5), -7, I64(-2), cs.OK},
		{"flt", F32(1), 1, Value{}, cs.ErrInvalidParam},
		{"dbl", F64(1), 1, Value{}, cs.ErrInvalidParam},
		{"str", Str("1"), 1, Value{}, cs.ErrInvalidParam},
		{"bin", Bin([]byte{1}), 1, Value{}, cs.ErrInvalidParam},
		{"type 0", Value{}, 1, Value{}, cs.ErrInvalidParam},
	} {
		got, err := tc.v.Adjust(tc.step)
		if err != tc.err || err == cs.OK && !got.Equal(tc.want) {
			t.Errorf("%s: %v %x, want %x %v", tc.name, err, got.Data, tc.want.Data, tc.err)
		}
	}
	v := U8(1)
	v.Adjust(1)
	if v.Data[0] != 1 {
		t.Error("Adjust modified its receiver")
	}
}

func TestAccessors(t *testing.T) {
	if n, ok := I16(-3).AsInt(); !ok || n != -3 {
		t.Errorf("AsInt = %d %v", n, ok)
	}
	if _, ok := U16(3).AsInt(); ok {
		t.Error("AsInt of u16")
	}
	if n, ok := U16(3).AsUint(); !ok || n != 3 {
		t.Errorf("AsUint = %d %v", n, ok)
	}
	if f, ok := F32(2.5).AsFloat(); !ok || f != 2.5 {
		t.Errorf("AsFloat = %v %v", f, ok)
	}
	if s, ok := Str("a\x00b").AsString(); !ok || s != "a" {
		t.Errorf("AsString = %q %v", s, ok)
	}
	if _, ok := U32(1).U64Value(); ok {
		t.Error("U64Value of u32")
	}
	if n, ok := U32(7).U32Value(); !ok || n != 7 {
		t.Errorf("U32Value = %d %v", n, ok)
	}
	if _, ok := U64(7).U32Value(); ok {
		t.Error("U32Value of u64")
	}
	if Uint32.String() != "u32" || Type(0).String() != "type(0)" || Type(13).String() != "type(13)" {
		t.Errorf("Type.String: %s %s %s", Uint32, Type(0), Type(13))
	}
	for i := Type(1); i <= Binary; i++ {
		if got, ok := ParseType(i.Name()); !ok || got != i {
			t.Errorf("ParseType(%q) = %v", i.Name(), got)
		}
	}
	if _, ok := ParseType("u128"); ok {
		t.Error("ParseType(u128)")
	}
	c := Bin([]byte{1}).Clone()
	if !c.Equal(Bin([]byte{1})) || (Value{}).Clone().Data != nil {
		t.Error("Clone")
	}
}
