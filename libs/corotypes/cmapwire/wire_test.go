package cmapwire

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// frame builds a message from (offset, bytes) pieces, independent of the
// encoders, following the offset tables of spec/client-api.md §5.
func frame(size int, pieces ...any) []byte {
	b := make([]byte, size)
	for i := 0; i < len(pieces); i += 2 {
		off := pieces[i].(int)
		switch v := pieces[i+1].(type) {
		case uint8:
			b[off] = v
		case uint16:
			binary.LittleEndian.PutUint16(b[off:], v)
		case int32:
			binary.LittleEndian.PutUint32(b[off:], uint32(v))
		case uint64:
			binary.LittleEndian.PutUint64(b[off:], v)
		case string:
			copy(b[off:], v)
		case []byte:
			copy(b[off:], v)
		}
	}
	return b
}

// name is a mar_name_t at off: length then bytes 8 further on.
func name(off int, s string) []any { return []any{off, uint16(len(s)), off + 8, s} }

func cat(parts ...[]any) []any {
	var out []any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestRequestLayouts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		req   Request
		bytes []byte
	}{
		{"SET u32 (300 bytes, as strace saw)", Set{Key: "test.key", Type: value.Uint32, Value: []byte{42, 0, 0, 0}},
			frame(300, cat([]any{0, int32(0), 8, int32(300)}, name(16, "test.key"), []any{280, uint64(4), 288, uint8(6), 296, []byte{42, 0, 0, 0}})...)},
		{"SET str hello without NUL (301 bytes)", Set{Key: "test.str", Type: value.String, Value: []byte("hello")},
			frame(301, cat([]any{0, int32(0), 8, int32(301)}, name(16, "test.str"), []any{280, uint64(5), 288, uint8(11), 296, "hello"})...)},
		{"DELETE", Delete{Key: "test.key"},
			frame(280, cat([]any{0, int32(1), 8, int32(280)}, name(16, "test.key"))...)},
		{"GET probe", Get{Key: "totem.cluster_name"},
			frame(288, cat([]any{0, int32(2), 8, int32(288)}, name(16, "totem.cluster_name"))...)},
		{"GET typed", Get{Key: "a.b", BufLen: 16},
			frame(288, cat([]any{0, int32(2), 8, int32(288)}, name(16, "a.b"), []any{280, uint64(16)})...)},
		{"ADJUST_INT dec", AdjustInt{Key: "a.b", Step: -1},
			frame(288, cat([]any{0, int32(3), 8, int32(288)}, name(16, "a.b"), []any{280, int32(-1)})...)},
		{"ITER_INIT all", IterInit{}, frame(280, 0, int32(4), 8, int32(280))},
		{"ITER_INIT prefix", IterInit{Prefix: "totem."},
			frame(280, cat([]any{0, int32(4), 8, int32(280)}, name(16, "totem."))...)},
		{"ITER_NEXT", IterNext{Iter: 0x1122334455667788}, frame(24, 0, int32(5), 8, int32(24), 16, uint64(0x1122334455667788))},
		{"ITER_FINALIZE", IterFinalize{Iter: 7}, frame(24, 0, int32(6), 8, int32(24), 16, uint64(7))},
		{"TRACK_ADD prefix", TrackAdd{Key: "test.", Flags: 15, Cookie: 0xabcdef},
			frame(296, cat([]any{0, int32(7), 8, int32(296)}, name(16, "test."), []any{280, int32(15), 288, uint64(0xabcdef)})...)},
		{"TRACK_DELETE", TrackDelete{Track: 3}, frame(24, 0, int32(8), 8, int32(24), 16, uint64(3))},
		{"SET_CURRENT_MAP stats", SetCurrentMap{Map: 1}, frame(24, 0, int32(9), 8, int32(24), 16, int32(1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.req.Encode(); !bytes.Equal(got, tc.bytes) {
				t.Fatalf("Encode:\n got %x\nwant %x", got, tc.bytes)
			}
			got, err := DecodeRequest(tc.bytes)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.req
			if s, ok := want.(Set); ok && s.Value == nil {
				s.Value = []byte{}
				want = s
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Decode = %#v, want %#v", got, want)
			}
		})
	}
}

func TestDecodeRequestRejects(t *testing.T) {
	good := Get{Key: "a.b"}.Encode()
	withSize := func(b []byte, size int32) []byte {
		b = append([]byte(nil), b...)
		binary.LittleEndian.PutUint32(b[8:], uint32(size))
		return b
	}
	set := Set{Key: "a.b", Type: value.Uint8, Value: []byte{1}}.Encode()
	badLen := append([]byte(nil), set...)
	binary.LittleEndian.PutUint64(badLen[280:], 2)
	longName := append([]byte(nil), good...)
	binary.LittleEndian.PutUint16(longName[16:], 257)
	nulName := append([]byte(nil), good...)
	binary.LittleEndian.PutUint16(nulName[16:], 5)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than its 16-byte header"},
		{"size field lies", withSize(good, 300), "header size 300 but 288"},
		{"short GET", withSize(good[:200], 200), "200 bytes, want 288"},
		{"unknown id", frame(24, 0, int32(99), 8, int32(24)), "unknown id 99"},
		{"SET value_len mismatch", badLen, "value_len 2 but 1 value bytes"},
		{"name too long", longName, "name length 257 exceeds 256"},
		{"NUL inside name", nulName, "NUL at byte 3"},
	} {
		if _, err := DecodeRequest(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestResponseLayouts(t *testing.T) {
	str := value.Str("svtest")
	for _, tc := range []struct {
		name  string
		got   []byte
		bytes []byte
	}{
		{"SET ok", EncodeStatus(ResSet, cs.OK), frame(24, 0, int32(0), 8, int32(24), 16, int32(1))},
		{"SET_CURRENT_MAP busy", EncodeStatus(ResSetCurrentMap, cs.ErrBusy), frame(24, 0, int32(10), 8, int32(24), 16, int32(10))},
		{"generic error", GenericError(cs.ErrInvalidParam), frame(24, 0, int32(0), 8, int32(24), 16, int32(7))},
		{"GET probe (40 bytes, value_len 7)", EncodeGet(0, str, cs.OK),
			frame(40, 0, int32(2), 8, int32(40), 16, int32(1), 24, uint64(7), 32, uint8(11))},
		{"GET sized read (47 bytes)", EncodeGet(7, str, cs.OK),
			frame(47, 0, int32(2), 8, int32(47), 16, int32(1), 24, uint64(7), 32, uint8(11), 40, "svtest\x00")},
		{"GET u32 with typed getter buffer (56 bytes)", EncodeGet(16, value.U32(5), cs.OK),
			frame(56, 0, int32(2), 8, int32(56), 16, int32(1), 24, uint64(4), 32, uint8(6), 40, []byte{5, 0, 0, 0})},
		{"GET buffer too small", EncodeGet(3, value.U32(5), cs.OK), frame(40, 0, int32(2), 8, int32(40), 16, int32(7))},
		{"GET not exist", EncodeGet(16, value.Value{}, cs.ErrNotExist), frame(40, 0, int32(2), 8, int32(40), 16, int32(12))},
		{"GET absurd buffer", EncodeGet(1<<40, value.U8(1), cs.OK), frame(40, 0, int32(2), 8, int32(40), 16, int32(7))},
		{"ITER_INIT", EncodeHandle(ResIterInit, 9, cs.OK), frame(32, 0, int32(4), 8, int32(32), 16, int32(1), 24, uint64(9))},
		{"TRACK_DELETE bad handle", EncodeHandle(ResTrackDelete, 0, cs.ErrBadHandle), frame(32, 0, int32(8), 8, int32(32), 16, int32(9))},
		{"ITER_NEXT", EncodeIterNext(IterEntry{Key: "totem.version", Len: 4, Type: value.Uint32}, cs.OK),
			frame(304, cat([]any{0, int32(5), 8, int32(304), 16, int32(1)}, name(24, "totem.version"), []any{288, uint64(4), 296, uint8(6)})...)},
		{"ITER_NEXT end", EncodeIterNext(IterEntry{Key: "ignored"}, cs.ErrNoSections), frame(304, 0, int32(5), 8, int32(304), 16, int32(27))},
		{"event create u32 (340 bytes)", Notify{Cookie: 5, Key: "tk.u32", Event: 4, New: value.U32(42)}.Encode(),
			frame(340, cat([]any{0, int32(9), 8, int32(340), 16, int32(1), 24, uint64(5)}, name(32, "tk.u32"),
				[]any{296, int32(4), 304, uint8(6), 320, uint64(4), 336, []byte{42, 0, 0, 0}})...)},
		{"event modify u32 (344 bytes)", Notify{Cookie: 5, Key: "tk.u32", Event: 2, New: value.U32(43), Old: value.U32(42)}.Encode(),
			frame(344, cat([]any{0, int32(9), 8, int32(344), 16, int32(1), 24, uint64(5)}, name(32, "tk.u32"),
				[]any{296, int32(2), 304, uint8(6), 312, uint8(6), 320, uint64(4), 328, uint64(4), 336, []byte{43, 0, 0, 0, 42, 0, 0, 0}})...)},
		{"event create string hello (342 bytes)", Notify{Cookie: 5, Key: "tk.s", Event: 4, New: value.Str("hello")}.Encode(),
			frame(342, cat([]any{0, int32(9), 8, int32(342), 16, int32(1), 24, uint64(5)}, name(32, "tk.s"),
				[]any{296, int32(4), 304, uint8(11), 320, uint64(6), 336, "hello\x00"})...)},
		{"event delete u32 (340 bytes)", Notify{Cookie: 5, Key: "tk.u32", Event: 1, Old: value.U32(43)}.Encode(),
			frame(340, cat([]any{0, int32(9), 8, int32(340), 16, int32(1), 24, uint64(5)}, name(32, "tk.u32"),
				[]any{296, int32(1), 312, uint8(6), 328, uint64(4), 336, []byte{43, 0, 0, 0}})...)},
	} {
		if !bytes.Equal(tc.got, tc.bytes) {
			t.Errorf("%s:\n got %x\nwant %x", tc.name, tc.got, tc.bytes)
		}
	}
}

func TestResponseRoundTrips(t *testing.T) {
	if e, err := DecodeStatus(EncodeStatus(ResDelete, cs.ErrAccess), ResDelete); err != nil || e != cs.ErrAccess {
		t.Errorf("status = %v %v", e, err)
	}
	// A generic error stands in for any reply.
	if e, err := DecodeStatus(GenericError(cs.ErrInvalidParam), ResSetCurrentMap); err != nil || e != cs.ErrInvalidParam {
		t.Errorf("generic = %v %v", e, err)
	}
	if _, err := DecodeStatus(EncodeStatus(ResDelete, cs.OK), ResSet); err == nil {
		t.Error("wrong id accepted")
	}
	r, e, err := DecodeGet(EncodeGet(16, value.U32(7), cs.OK), 16)
	if err != nil || e != cs.OK || r.Type != value.Uint32 || r.Len != 4 || !bytes.Equal(r.Value, []byte{7, 0, 0, 0}) {
		t.Errorf("get = %+v %v %v", r, e, err)
	}
	if r, e, err := DecodeGet(EncodeGet(0, value.Str("ab"), cs.OK), 0); err != nil || e != cs.OK || r.Len != 3 || r.Value != nil {
		t.Errorf("get probe = %+v %v %v", r, e, err)
	}
	if h, e, err := DecodeHandle(EncodeHandle(ResTrackAdd, 77, cs.OK), ResTrackAdd); err != nil || e != cs.OK || h != 77 {
		t.Errorf("handle = %d %v %v", h, e, err)
	}
	ent := IterEntry{Key: strings.Repeat("k", 255), Len: 9, Type: value.Binary}
	if got, e, err := DecodeIterNext(EncodeIterNext(ent, cs.OK)); err != nil || e != cs.OK || got != ent {
		t.Errorf("iter next = %+v %v %v", got, e, err)
	}
	n := Notify{Cookie: 1, Key: "a.b", Event: 2, New: value.Bin([]byte{1, 2, 3}), Old: value.Str("x")}
	if got, err := DecodeNotify(n.Encode()); err != nil || !reflect.DeepEqual(got, n) {
		t.Errorf("notify = %+v %v", got, err)
	}
	bad := n.Encode()
	binary.LittleEndian.PutUint64(bad[320:], 100)
	if _, err := DecodeNotify(bad); err == nil || !strings.Contains(err.Error(), "new_value_len 100") {
		t.Errorf("bad lengths: %v", err)
	}
}

func seedMessages() [][]byte {
	return [][]byte{
		Set{Key: "a.b", Type: value.String, Value: []byte("hi")}.Encode(),
		Get{Key: "a.b", BufLen: 16}.Encode(),
		TrackAdd{Key: "x.", Flags: 15, Cookie: 1}.Encode(),
		IterNext{Iter: 1}.Encode(),
		SetCurrentMap{Map: 1}.Encode(),
		EncodeGet(16, value.U32(1), cs.OK),
		EncodeIterNext(IterEntry{Key: "a.b", Len: 1, Type: 2}, cs.OK),
		EncodeHandle(ResIterInit, 1, cs.OK),
		Notify{Key: "a.b", Event: 2, New: value.U8(1), Old: value.U8(2)}.Encode(),
		GenericError(cs.ErrInvalidParam),
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, m := range seedMessages() {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same message, padding aside.
		again, err := DecodeRequest(r.Encode())
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("re-decode of %#v: %#v, %v", r, again, err)
		}
	})
}

func FuzzDecodeReplies(f *testing.F) {
	for _, m := range seedMessages() {
		f.Add(m, uint64(16))
	}
	f.Fuzz(func(t *testing.T, b []byte, bufLen uint64) {
		DecodeStatus(b, ResSet)
		DecodeGet(b, bufLen)
		DecodeHandle(b, ResTrackAdd)
		DecodeIterNext(b)
		if n, err := DecodeNotify(b); err == nil {
			if got, err := DecodeNotify(n.Encode()); err != nil || !reflect.DeepEqual(got, n) {
				t.Fatalf("notify re-decode: %+v, %v", got, err)
			}
		}
	})
}
