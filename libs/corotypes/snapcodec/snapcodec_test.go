package snapcodec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRoundTrip writes one of everything and reads it back.
func TestRoundTrip(t *testing.T) {
	e := NewEnc([]byte("magic"))
	e.UV(1 << 40)
	e.U32(1<<32 - 1)
	e.Count(2)
	e.Str("group")
	e.Data([]byte{0, 1, 2})
	e.Data(nil)
	e.Dur(3 * time.Second)
	e.IDs([]uint32{1, 300, 70000})
	e.IDs(nil)
	e.Flag(true)
	e.Flags(false, true)
	b := e.Bytes()

	d := NewDec(b, len("magic"))
	if v := d.UV("uv"); v != 1<<40 {
		t.Errorf("UV %d", v)
	}
	if v := d.U32("u32"); v != 1<<32-1 {
		t.Errorf("U32 %d", v)
	}
	if n := d.Count("count", 1); n != 2 {
		t.Errorf("Count %d", n)
	}
	if s := d.Str("str", 5); s != "group" {
		t.Errorf("Str %q", s)
	}
	if p := d.Data("data"); !bytes.Equal(p, []byte{0, 1, 2}) {
		t.Errorf("Data %v", p)
	}
	if p := d.Data("empty data"); p != nil {
		t.Errorf("empty Data %v, want nil", p)
	}
	if v := d.Dur("dur", time.Minute); v != 3*time.Second {
		t.Errorf("Dur %v", v)
	}
	if l := d.IDs("ids", 3); len(l) != 3 || l[0] != 1 || l[1] != 300 || l[2] != 70000 {
		t.Errorf("IDs %v", l)
	}
	if l := d.IDs("no ids", 3); l != nil {
		t.Errorf("empty IDs %v, want nil", l)
	}
	if a, b, c := d.Flag("f1"), d.Flag("f2"), d.Flag("f3"); !a || b || !c {
		t.Errorf("flags %v %v %v", a, b, c)
	}
	if d.Err() != nil || d.Left() != 0 {
		t.Fatalf("err %v, %d bytes left", d.Err(), d.Left())
	}
	if d.In("element %d", 1) != nil {
		t.Error("In without an error is not nil")
	}
}

// TestDataCopied checks that what Dec returns keeps nothing of its input.
func TestDataCopied(t *testing.T) {
	e := NewEnc(nil)
	e.Data([]byte("abc"))
	b := e.Bytes()
	p := NewDec(b, 0).Data("data")
	b[1] = 'x'
	if string(p) != "abc" {
		t.Errorf("Data shares the input: %q", p)
	}
}

// TestRejects reads one field from bad bytes: each error names the field,
// where it starts, and why.
func TestRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		read func(d *Dec)
		want string
	}{
		{"truncated uvarint", []byte{0x80}, func(d *Dec) { d.UV("v") }, "v at byte 0: truncated"},
		{"empty", nil, func(d *Dec) { d.UV("v") }, "v at byte 0: truncated"},
		{"overflow", append(bytes.Repeat([]byte{0xff}, 9), 2), func(d *Dec) { d.UV("v") }, "v at byte 0: number overflows 64 bits"},
		{"not minimal", []byte{0x81, 0}, func(d *Dec) { d.UV("v") }, "v at byte 0: number 1 not minimally encoded"},
		{"zero not minimal", []byte{0x80, 0}, func(d *Dec) { d.UV("v") }, "v at byte 0: number 0 not minimally encoded"},
		{"u32", []byte{0, 0x80, 0x80, 0x80, 0x80, 0x10}, func(d *Dec) { d.UV("a"); d.U32("b") }, "b at byte 1: 4294967296 exceeds 32 bits"},
		{"up to", []byte{0, 6}, func(d *Dec) { d.UV("a"); d.UpTo("b", 5) }, "b at byte 1: 6 exceeds 5"},
		{"dur", []byte{61}, func(d *Dec) { d.Dur("d", 60) }, "d at byte 0: 61 exceeds 60"},
		{"negative dur", append(NewEnc(nil).durBytes(-1), 0), func(d *Dec) { d.Dur("d", time.Hour) }, "exceeds 3600000000000"},
		{"flag byte", []byte{2}, func(d *Dec) { d.Flag("f") }, "f at byte 0: flag byte 2, want 0 or 1"},
		{"flag truncated", nil, func(d *Dec) { d.Flag("f") }, "f at byte 0: truncated"},
		{"count over bytes left", []byte{3, 0, 0}, func(d *Dec) { d.Count("c", 1) }, "c at byte 0: count 3, but only 2 bytes left"},
		{"count of wide elements", []byte{2, 0, 0, 0}, func(d *Dec) { d.Count("c", 2) }, "c at byte 0: count 2, but only 3 bytes left"},
		{"huge count", NewEnc(nil).uvBytes(1 << 63), func(d *Dec) { d.Count("c", 1) }, "count 9223372036854775808, but only 0 bytes left"},
		{"count over limit", []byte{3, 0, 0, 0}, func(d *Dec) { d.CountUpTo("c", 1, 2) }, "c at byte 0: count 3 exceeds 2"},
		{"count over limit and bytes", []byte{9}, func(d *Dec) { d.CountUpTo("c", 1, 2) }, "c at byte 0: count 9 exceeds 2"},
		{"long string", []byte{3, 'a', 'b', 'c'}, func(d *Dec) { d.Str("s", 2) }, "s at byte 0: 3 bytes, at most 2 allowed"},
		{"string past the end", []byte{3, 'a'}, func(d *Dec) { d.Str("s", 9) }, "s at byte 0: count 3, but only 1 bytes left"},
		{"data past the end", []byte{0, 3, 'a'}, func(d *Dec) { d.Flag("f"); d.Data("p") }, "p at byte 1: count 3, but only 1 bytes left"},
		{"ids over limit", []byte{3, 1, 2, 3}, func(d *Dec) { d.IDs("l", 2) }, "l at byte 0: count 3 exceeds 2"},
		{"id over 32 bits", []byte{1, 0x80, 0x80, 0x80, 0x80, 0x10}, func(d *Dec) { d.IDs("l", 2) }, "l at byte 1: 4294967296 exceeds 32 bits"},
	} {
		d := NewDec(tc.b, 0)
		tc.read(d)
		if d.Err() == nil || !strings.Contains(d.Err().Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, d.Err(), tc.want)
		}
	}
}

// TestSticky checks that after an error every read is a zero value and
// the first error stays, wrapped by In.
func TestSticky(t *testing.T) {
	d := NewDec([]byte{2, 5, 1, 'a'}, 0)
	d.Flag("first")
	if d.UV("uv") != 0 || d.U32("u32") != 0 || d.Count("c", 1) != 0 || d.CountUpTo("c", 1, 9) != 0 ||
		d.Str("s", 9) != "" || d.Data("p") != nil || d.Flag("f") || d.IDs("l", 9) != nil || d.Dur("d", time.Hour) != 0 {
		t.Error("a read after an error returned something")
	}
	err := d.In("element %d", 7)
	if err == nil || err.Error() != "element 7: first at byte 0: flag byte 2, want 0 or 1" || !errors.Is(err, d.Err()) {
		t.Errorf("In: %v", err)
	}
	if d.Left() != 4 {
		t.Errorf("%d bytes left, want 4: a failed read consumes nothing", d.Left())
	}
}

func (e *Enc) uvBytes(v uint64) []byte         { e.UV(v); return e.Bytes() }
func (e *Enc) durBytes(v time.Duration) []byte { e.Dur(v); return e.Bytes() }

// FuzzDec reads arbitrary bytes as a sequence of fields chosen by the
// first bytes: it must not panic, must not claim more than the input
// holds, and whatever it accepts encodes back to the same bytes.
func FuzzDec(f *testing.F) {
	e := NewEnc(nil)
	e.UV(0)
	e.UV(300)
	e.UV(1)
	e.U32(70000)
	e.UV(2)
	e.Count(1)
	e.UV(3)
	e.Str("abc")
	e.UV(4)
	e.Data([]byte{9})
	e.UV(5)
	e.Dur(time.Second)
	e.UV(6)
	e.IDs([]uint32{1, 2})
	e.UV(7)
	e.Flag(true)
	f.Add(e.Bytes())
	f.Add([]byte{7, 7, 7, 7, 7, 7, 7, 7, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDec(b, 0)
		re := NewEnc(nil)
		for d.Err() == nil && d.Left() > 0 {
			op := d.UV("op")
			if d.Err() != nil {
				break
			}
			start := len(b) - d.Left()
			re.UV(op)
			switch op % 8 {
			case 0:
				v := d.UV("uv")
				re.UV(v)
			case 1:
				v := d.U32("u32")
				re.U32(v)
			case 2:
				n := d.Count("count", 2)
				if n > d.Left()/2 {
					t.Fatalf("count %d with %d bytes left", n, d.Left())
				}
				re.Count(n)
			case 3:
				s := d.Str("str", 16)
				if len(s) > 16 {
					t.Fatalf("string of %d bytes", len(s))
				}
				re.Str(s)
			case 4:
				p := d.Data("data")
				re.Data(p)
			case 5:
				v := d.Dur("dur", time.Hour)
				if v < 0 || v > time.Hour {
					t.Fatalf("duration %v", v)
				}
				re.Dur(v)
			case 6:
				l := d.IDs("ids", 8)
				if len(l) > 8 {
					t.Fatalf("%d ids", len(l))
				}
				re.IDs(l)
			case 7:
				v := d.Flag("flag")
				re.Flag(v)
			}
			if d.Err() == nil && len(b)-d.Left() < start {
				t.Fatal("offset went back")
			}
		}
		if d.Err() != nil {
			if !strings.Contains(d.Err().Error(), " at byte ") {
				t.Fatalf("error without an offset: %v", d.Err())
			}
			return
		}
		if !bytes.Equal(re.Bytes(), b) {
			t.Fatalf("accepted bytes encode differently:\n%x\n%x", b, re.Bytes())
		}
	})
}
