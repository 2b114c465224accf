package cpgmsg

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// frame builds expected bytes by hand: size bytes of zero with the given
// bytes written at the given offsets (offsets from spec/cpg.md §6).
func frame(size int, at ...any) []byte {
	b := make([]byte, size)
	for i := 0; i < len(at); i += 2 {
		copy(b[at[i].(int):], at[i+1].([]byte))
	}
	return b
}

func u32le(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
func u32be(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func TestEncodeHandChecked(t *testing.T) {
	cases := []struct {
		name string
		m    Message
		want []byte
	}{
		{"procjoin", ProcJoin{Group: "grp", PID: 1234, Reason: 1}, frame(168,
			0, []byte{0x00, 0x00, 0x02, 0x00}, 8, []byte{0xa8}, // id 0x20000, size 168
			16, []byte{3}, 24, []byte("grp"), // name length@16, value@24
			152, []byte{0xd2, 0x04}, 160, []byte{1})},
		{"procleave pacemaker name with its NUL", ProcLeave{Group: "cib\x00", PID: 7, Reason: 5}, frame(168,
			0, []byte{0x01, 0x00, 0x02, 0x00}, 8, []byte{0xa8},
			16, []byte{4}, 24, []byte("cib\x00"),
			152, []byte{7}, 160, []byte{5})},
		{"joinlist two entries", JoinList{Entries: []JoinEntry{{PID: 9360, Group: "twgroup"}, {PID: 1, Group: ""}}}, frame(24+2*144,
			0, []byte{0x02, 0x00, 0x02, 0x00}, 8, []byte{0x38, 0x01}, // size 312
			24, []byte{0x90, 0x24}, 32, []byte{7}, 40, []byte("twgroup"),
			168, []byte{1})},
		{"joinlist empty", JoinList{}, frame(24, 0, []byte{0x02, 0x00, 0x02, 0x00}, 8, []byte{24})},
		{"mcast", Mcast{Group: "g", PID: 42, SourceNode: 3, SourceConn: 0x1122334455667788, Data: []byte("hi!")}, frame(187,
			0, []byte{0x03, 0x00, 0x02, 0x00}, 8, []byte{187},
			16, []byte{1}, 24, []byte("g"),
			152, []byte{3}, 160, []byte{42}, // msglen, pid
			168, []byte{3}, 176, []byte{0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11},
			184, []byte("hi!"))},
		{"partial mcast", PartialMcast{Group: "g", MsgLen: 5000, PID: 42, Type: 2, SourceNode: 3, SourceConn: 9, Data: []byte{0xee, 0xff}}, frame(202,
			0, []byte{0x06, 0x00, 0x02, 0x00}, 8, []byte{202},
			16, []byte{1}, 24, []byte("g"),
			152, []byte{0x88, 0x13}, 160, []byte{2}, 168, []byte{42}, 176, []byte{2}, // msglen, fraglen, pid, type
			184, []byte{3}, 192, []byte{9},
			200, []byte{0xee, 0xff})},
		{"downlist", Downlist{OldMembers: 3, Left: []uint32{2, 0x01020304}}, frame(1568,
			0, []byte{0x05, 0x00, 0x02, 0x00}, 8, []byte{0x20, 0x06}, // size 1568
			16, []byte{3}, 24, []byte{2},
			32, []byte{2}, 36, []byte{4, 3, 2, 1})},
		{"downlist old", DownlistOld{Left: []uint32{5}}, frame(1560,
			0, []byte{0x04, 0x00, 0x02, 0x00}, 8, []byte{0x18, 0x06},
			16, []byte{1}, 24, []byte{5})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Encode(tc.m)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, tc.want)
			}
			back, err := Decode(tc.want, false)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(norm(back), norm(tc.m)) {
				t.Fatalf("decode: got %+v, want %+v", back, tc.m)
			}
		})
	}
}

// norm makes empty and nil slices compare equal.
func norm(m Message) Message {
	switch v := m.(type) {
	case JoinList:
		if len(v.Entries) == 0 {
			v.Entries = nil
		}
		return v
	case Downlist:
		if len(v.Left) == 0 {
			v.Left = nil
		}
		return v
	}
	return m
}

// A big-endian peer wrote every field swapped; padding, stale entries and
// name bytes past the length are ignored.
func TestDecodeSwappedPeer(t *testing.T) {
	proc := frame(168,
		0, u32be(0x00020000), 8, u32be(168),
		16, u32be(5), 24, []byte("attrd\x00GARBAGE"),
		152, u32be(0x01020304), 160, u32be(2),
		164, []byte{0xde, 0xad}) // padding
	m, err := Decode(proc, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ProcLeave{}); reflect.TypeOf(m) == reflect.TypeOf(want) {
		t.Fatalf("fn: got %T, want ProcJoin", m)
	}
	if got, want := m.(ProcJoin), (ProcJoin{Group: "attrd", PID: 0x01020304, Reason: 2}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	dl := frame(1568, 0, u32be(0x00020005), 8, u32be(1568), 16, u32be(4), 24, u32be(1), 32, u32be(7), 36, u32be(99))
	m, err = Decode(dl, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(Downlist); got.OldMembers != 4 || !reflect.DeepEqual(got.Left, []uint32{7}) {
		t.Fatalf("downlist: got %+v", got)
	}

	jl := frame(24+144, 0, u32be(0x00020002), 8, u32be(168), 24, u32be(77), 32, u32be(3), 40, []byte("abc"))
	m, err = Decode(jl, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(JoinList); !reflect.DeepEqual(got.Entries, []JoinEntry{{PID: 77, Group: "abc"}}) {
		t.Fatalf("joinlist: got %+v", got)
	}

	mc := frame(186, 0, u32be(0x00020003), 8, u32be(186), 16, u32be(1), 24, []byte("x"), 152, u32be(2), 160, u32be(9), 168, u32be(4), 184, []byte("ok"))
	m, err = Decode(mc, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.(Mcast); got.PID != 9 || got.SourceNode != 4 || string(got.Data) != "ok" || got.Group != "x" {
		t.Fatalf("mcast: got %+v", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := map[string][]byte{
		"procjoin": Encode(ProcJoin{Group: "g", PID: 1, Reason: 1}),
		"joinlist": Encode(JoinList{Entries: []JoinEntry{{PID: 1, Group: "g"}}}),
		"mcast":    Encode(Mcast{Group: "g", PID: 1, Data: []byte("abc")}),
		"partial":  Encode(PartialMcast{Group: "g", MsgLen: 10, PID: 1, Type: 1, Data: []byte("abc")}),
		"downlist": Encode(Downlist{OldMembers: 1}),
	}
	set := func(b []byte, off int, v uint32) []byte {
		b = append([]byte(nil), b...)
		copy(b[off:], u32le(v))
		return b
	}
	cases := []struct {
		name string
		msg  []byte
		want string
	}{
		{"empty", nil, "shorter than the 16-byte header"},
		{"other service", set(good["procjoin"], 0, 0x00050000), "not cpg"},
		{"unknown fn", set(good["procjoin"], 0, 0x00020007), "unknown function"},
		{"size lies", set(good["procjoin"], 8, 200), "header says 200 bytes, message has 168"},
		{"truncated", set(good["procjoin"][:100], 8, 100), "100 bytes, want 168"},
		{"name too long", set(good["procjoin"], 16, 129), "length 129"},
		{"joinlist partial entry", set(append(good["joinlist"], 1, 2, 3), 8, 24+144+3), "not the 24-byte header"},
		{"joinlist entry name", set(good["joinlist"], 32, 1000), "entry 0 group name length 1000"},
		{"mcast msglen lies", set(good["mcast"], 152, 2), "msglen 2, but 3 payload bytes"},
		{"partial fraglen lies", set(good["partial"], 160, 4), "fraglen 4, but 3"},
		{"partial fraglen over msglen", set(good["partial"], 152, 2), "exceeds msglen 2"},
		{"partial type", set(good["partial"], 176, 4), "fragment type 4"},
		{"downlist too many", set(good["downlist"], 24, 385), "left_nodes 385 exceeds 384"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.msg, false)
			if err == nil {
				t.Fatalf("decoded %+v, want an error", m)
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
}

// fuzzOne decodes msg under id fn with a correct header size, and checks
// that what decodes re-encodes to a message that decodes the same.
func fuzzOne(t *testing.T, fn Fn, body []byte, swapped bool) {
	msg := append(make([]byte, HeaderSize), body...)
	copy(msg, u32le(id(fn)))
	copy(msg[8:], u32le(uint32(len(msg))))
	if swapped {
		copy(msg, u32be(id(fn)))
		copy(msg[8:], u32be(uint32(len(msg))))
	}
	m, err := Decode(msg, swapped)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
		return
	}
	if m.Fn() != fn {
		t.Fatalf("decoded fn %v, want %v", m.Fn(), fn)
	}
	again, err := Decode(Encode(m), false)
	if err != nil {
		t.Fatalf("re-encoded %+v does not decode: %v", m, err)
	}
	if !reflect.DeepEqual(norm(again), norm(m)) {
		t.Fatalf("round trip: %+v became %+v", m, again)
	}
}

func seeds(f *testing.F, m Message) {
	b := Encode(m)
	f.Add(b[HeaderSize:], false)
	f.Add(b[HeaderSize:], true)
}

func FuzzProcJoin(f *testing.F) {
	seeds(f, ProcJoin{Group: "grp", PID: 1, Reason: 1})
	f.Fuzz(func(t *testing.T, body []byte, swapped bool) { fuzzOne(t, FnProcJoin, body, swapped) })
}

func FuzzProcLeave(f *testing.F) {
	seeds(f, ProcLeave{Group: "cib\x00", PID: 1, Reason: 5})
	f.Fuzz(func(t *testing.T, body []byte, swapped bool) { fuzzOne(t, FnProcLeave, body, swapped) })
}

func FuzzJoinList(f *testing.F) {
	seeds(f, JoinList{Entries: []JoinEntry{{PID: 1, Group: "a"}, {PID: 2, Group: strings.Repeat("z", 128)}}})
	f.Fuzz(func(t *testing.T, body []byte, swapped bool) {
		// JOINLIST's response header is 8 bytes longer.
		fuzzOne(t, FnJoinList, body, swapped)
	})
}

func FuzzMcast(f *testing.F) {
	seeds(f, Mcast{Group: "g", PID: 1, SourceNode: 2, Data: []byte("payload")})
	f.Fuzz(func(t *testing.T, body []byte, swapped bool) { fuzzOne(t, FnMcast, body, swapped) })
}

func FuzzPartialMcast(f *testing.F) {
	seeds(f, PartialMcast{Group: "g", MsgLen: 100, PID: 1, Type: 1, Data: []byte("frag")})
	f.Fuzz(func(t *testing.T, body []byte, swapped bool) { fuzzOne(t, FnPartialMcast, body, swapped) })
}

func FuzzDownlist(f *testing.F) {
	seeds(f, Downlist{OldMembers: 3, Left: []uint32{1, 2}})
	f.Fuzz(func(t *testing.T, body []byte, swapped bool) { fuzzOne(t, FnDownlist, body, swapped) })
}

func FuzzDownlistOld(f *testing.F) {
	seeds(f, DownlistOld{Left: []uint32{1}})
	f.Fuzz(func(t *testing.T, body []byte, swapped bool) { fuzzOne(t, FnDownlistOld, body, swapped) })
}

// FuzzDecode feeds whole messages, headers included.
func FuzzDecode(f *testing.F) {
	for _, m := range []Message{ProcJoin{Group: "g"}, JoinList{}, Mcast{Data: []byte{1}}, Downlist{}} {
		f.Add(Encode(m), false)
	}
	f.Fuzz(func(t *testing.T, msg []byte, swapped bool) {
		if _, err := Decode(msg, swapped); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
	})
}

// TestEncodedSizeIsExact: Encode sizes its buffer from encodedSize, which
// must be exactly the encoding's length where it claims to know it.
func TestEncodedSizeIsExact(t *testing.T) {
	for _, m := range []Message{
		Mcast{Group: "g", PID: 7, Data: make([]byte, 1000)},
		Mcast{Group: "", Data: nil},
		PartialMcast{Group: "grp", MsgLen: 300000, Data: make([]byte, 4096)},
		ProcJoin{Group: "a", PID: 1, Reason: 1},
		ProcLeave{Group: "a", PID: 1, Reason: 2},
		Downlist{Left: []uint32{2, 3}},
	} {
		b := Encode(m)
		if want := encodedSize(m); len(b) != want || cap(b) != want {
			t.Errorf("%T: encoded %d bytes (cap %d), encodedSize says %d", m, len(b), cap(b), want)
		}
	}
}
