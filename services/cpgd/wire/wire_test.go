package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// frame builds a message from (offset, value) pieces, independent of the
// encoders, following the offset tables of spec/client-api.md §7.
func frame(size int, pieces ...any) []byte {
	b := make([]byte, size)
	for i := 0; i < len(pieces); i += 2 {
		off := pieces[i].(int)
		switch v := pieces[i+1].(type) {
		case uint32:
			binary.LittleEndian.PutUint32(b[off:], v)
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

// name is a mar_cpg_name_t at off: u32 length, bytes 8 further on.
func name(off int, s string) []any { return []any{off, uint32(len(s)), off + 8, s} }

// addr is a mar_cpg_address_t at off.
func addr(off int, nodeid, pid, reason uint32) []any {
	return []any{off, nodeid, off + 8, pid, off + 16, reason}
}

func cat(parts ...[]any) []any {
	var out []any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func hdr(id int32, size int) []any { return []any{0, id, 8, int32(size)} }

func TestRequestLayouts(t *testing.T) {
	big := strings.Repeat("x", 128)
	for _, tc := range []struct {
		name  string
		req   Request
		bytes []byte
	}{
		{"JOIN GROUP with its NUL (testcpg)", Join{Group: "GROUP\x00", PID: 4242, Flags: 1},
			frame(168, cat(hdr(0, 168), name(16, "GROUP\x00"), []any{152, uint32(4242), 160, uint32(1)})...)},
		{"JOIN 128-byte name", Join{Group: big, PID: 1},
			frame(168, cat(hdr(0, 168), name(16, big), []any{152, uint32(1)})...)},
		{"LEAVE", Leave{Group: "cib\x00", PID: 7},
			frame(160, cat(hdr(1, 160), name(16, "cib\x00"), []any{152, uint32(7)})...)},
		{"MCAST 5 bytes", Mcast{Guarantee: 2, Msg: []byte("hello")},
			frame(45, cat(hdr(2, 45), []any{24, uint32(2), 32, uint32(5), 40, "hello"})...)},
		{"MCAST empty", Mcast{Guarantee: 0, Msg: []byte{}}, frame(40, cat(hdr(2, 40), []any{32, uint32(0)})...)},
		{"PARTIAL_MCAST first", PartialMcast{Guarantee: 2, MsgLen: 2000000, Type: PartialFirst, Frag: []byte("abc")},
			frame(59, cat(hdr(12, 59), []any{24, uint32(2), 32, uint32(2000000), 40, uint32(3), 48, uint32(1), 56, "abc"})...)},
		{"MEMBERSHIP", Membership{Group: "a\x00b"}, frame(152, cat(hdr(3, 152), name(16, "a\x00b"))...)},
		{"LOCAL_GET", LocalGet{}, frame(16, hdr(4, 16)...)},
		{"ITERATIONINITIALIZE one group", IterInit{Group: "grp", Type: IterOneGroup},
			frame(160, cat(hdr(5, 160), name(16, "grp"), []any{152, uint32(2)})...)},
		{"ITERATIONINITIALIZE all", IterInit{Type: IterAll}, frame(160, cat(hdr(5, 160), []any{152, uint32(3)})...)},
		{"ITERATIONNEXT", IterNext{Handle: 0x1122334455667788}, frame(24, cat(hdr(6, 24), []any{16, uint64(0x1122334455667788)})...)},
		{"ITERATIONFINALIZE", IterFinalize{Handle: 9}, frame(24, cat(hdr(7, 24), []any{16, uint64(9)})...)},
		{"FINALIZE", Finalize{}, frame(16, hdr(8, 16)...)},
		{"ZC_ALLOC", ZcAlloc{MapSize: 4096, Path: "/dev/shm/corosync_zerocopy-AbC123"},
			frame(152, cat(hdr(9, 152), []any{16, uint64(4096), 24, "/dev/shm/corosync_zerocopy-AbC123"})...)},
		{"ZC_FREE", ZcFree{MapSize: 4096, ServerAddress: 0xdead}, frame(32, cat(hdr(10, 32), []any{16, uint64(4096), 24, uint64(0xdead)})...)},
		{"ZC_EXECUTE", ZcExecute{ServerAddress: 0xbeef}, frame(24, cat(hdr(11, 24), []any{16, uint64(0xbeef)})...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.req.Encode(); !bytes.Equal(got, tc.bytes) {
				t.Fatalf("Encode:\n got %x\nwant %x", got, tc.bytes)
			}
			got, err := DecodeRequest(tc.bytes)
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			if !reflect.DeepEqual(got, tc.req) {
				t.Fatalf("DecodeRequest = %#v, want %#v", got, tc.req)
			}
			if rid, ok := ResponseID(tc.req.ID()); ok != (tc.req.ID() != ReqMcast) || (ok && rid < 0) {
				t.Fatalf("ResponseID(%d) = %d %v", tc.req.ID(), rid, ok)
			}
		})
	}
}

// TestRequestPaddingIgnored: libcpg does not zero JOIN and leaves the name
// of a NAME_ONLY iteration uninitialised; MCAST's error field is garbage.
func TestRequestPaddingIgnored(t *testing.T) {
	j := Join{Group: "g", PID: 3}.Encode()
	for _, off := range []int{4, 12, 20, 16 + 8 + 1, 16 + 8 + 127, 156, 164} {
		j[off] = 0xa5
	}
	if r, err := DecodeRequest(j); err != nil || r != (Join{Group: "g", PID: 3}) {
		t.Fatalf("JOIN with garbage padding: %#v %v", r, err)
	}
	it := IterInit{Type: IterNameOnly}.Encode()
	ne.PutUint32(it[16:], 0xffffffff) // garbage length: not read for NAME_ONLY
	if r, err := DecodeRequest(it); err != nil || r != (IterInit{Type: IterNameOnly}) {
		t.Fatalf("NAME_ONLY with garbage name: %#v %v", r, err)
	}
	m := Mcast{Guarantee: 1, Msg: []byte("x")}.Encode()
	ne.PutUint32(m[16:], 0x7f7f7f7f)
	if r, err := DecodeRequest(m); err != nil || string(r.(Mcast).Msg) != "x" {
		t.Fatalf("MCAST with garbage error field: %#v %v", r, err)
	}
}

func TestRequestErrors(t *testing.T) {
	long := Join{Group: "g"}.Encode()
	ne.PutUint32(long[16:], 129)
	var ne_ *NameError
	if _, err := DecodeRequest(long); !errors.As(err, &ne_) || !errors.Is(err, cs.ErrNameTooLong) || ne_.Req != ReqJoin {
		t.Fatalf("129-byte name: %v", err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short header", make([]byte, 8), "shorter than its 16-byte header"},
		{"size lies", func() []byte { b := LocalGet{}.Encode(); ne.PutUint32(b[8:], 17); return b }(), "header size 17 but 16"},
		{"unknown id", frame(16, hdr(13, 16)...), "unknown id 13"},
		{"truncated JOIN", frame(100, hdr(0, 100)...), "100 bytes, want 168"},
		{"JOIN too long", frame(176, hdr(0, 176)...), "176 bytes, want 168"},
		{"MCAST msglen lies", frame(45, cat(hdr(2, 45), []any{32, uint32(6)})...), "msglen 6 but 5 bytes follow"},
		{"PARTIAL fraglen lies", frame(60, cat(hdr(12, 60), []any{32, uint32(10), 40, uint32(3), 48, uint32(1)})...), "fraglen 3 but 4"},
		{"PARTIAL frag > msg", frame(60, cat(hdr(12, 60), []any{32, uint32(2), 40, uint32(4), 48, uint32(1)})...), "larger than msglen"},
		{"PARTIAL bad type", frame(60, cat(hdr(12, 60), []any{32, uint32(4), 40, uint32(4), 48, uint32(4)})...), "fragment type 4"},
		{"ZC path unterminated", frame(152, cat(hdr(9, 152), []any{24, strings.Repeat("p", 128)})...), "not NUL-terminated"},
	} {
		_, err := DecodeRequest(tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestResponseLayouts(t *testing.T) {
	members := []Address{{1, 100, 0}, {2, 200, 0}}
	mb, err := EncodeMembership(members, cs.OK)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		got  []byte
		want []byte
	}{
		{"JOIN ok", EncodeStatus(ResJoin, cs.OK), frame(24, cat(hdr(0, 24), []any{16, int32(1)})...)},
		{"LEAVE busy", EncodeStatus(ResLeave, cs.ErrBusy), frame(24, cat(hdr(1, 24), []any{16, int32(10)})...)},
		{"PARTIAL_SEND interrupt", EncodeStatus(ResPartialSend, cs.ErrInterrupt), frame(24, cat(hdr(18, 24), []any{16, int32(16)})...)},
		{"generic try again", GenericError(cs.ErrTryAgain), frame(24, cat(hdr(0, 24), []any{16, int32(6)})...)},
		{"zero-copy refusal", NotSupportedReply(), frame(24, cat(hdr(14, 24), []any{16, int32(19)})...)},
		{"MEMBERSHIP", mb, frame(9248, cat(hdr(3, 9248), []any{16, int32(1), 24, uint32(2)}, addr(32, 1, 100, 0), addr(56, 2, 200, 0))...)},
		{"LOCAL_GET", EncodeLocalGet(3, cs.OK), frame(32, cat(hdr(7, 32), []any{16, int32(1), 24, uint32(3)})...)},
		{"ITERATIONINITIALIZE", EncodeIterInit(0xabc, cs.OK), frame(32, cat(hdr(9, 32), []any{16, int32(1), 24, uint64(0xabc)})...)},
		{"ITERATIONNEXT", EncodeIterNext(IterEntry{Group: "grp", NodeID: 2, PID: 77}, cs.OK),
			frame(168, cat(hdr(10, 168), []any{16, int32(1)}, name(24, "grp"), []any{160, uint32(2), 164, uint32(77)})...)},
		{"ITERATIONNEXT end", EncodeIterNext(IterEntry{Group: "x"}, cs.ErrNoSections), frame(168, cat(hdr(10, 168), []any{16, int32(27)})...)},
	} {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s:\n got %x\nwant %x", tc.name, tc.got, tc.want)
		}
	}
	if got, e, err := DecodeMembership(mb); err != nil || e != cs.OK || !reflect.DeepEqual(got, members) {
		t.Fatalf("DecodeMembership: %v %v %v", got, e, err)
	}
	if _, err := EncodeMembership(make([]Address, 385), cs.OK); err == nil {
		t.Fatal("385 members encoded")
	}
	if n, e, err := DecodeLocalGet(EncodeLocalGet(3, cs.OK)); n != 3 || e != cs.OK || err != nil {
		t.Fatalf("DecodeLocalGet: %d %v %v", n, e, err)
	}
	if h, e, err := DecodeIterInit(EncodeIterInit(5, cs.OK)); h != 5 || e != cs.OK || err != nil {
		t.Fatalf("DecodeIterInit: %d %v %v", h, e, err)
	}
	if ent, e, err := DecodeIterNext(EncodeIterNext(IterEntry{Group: "g\x00", NodeID: 1, PID: 2}, cs.OK)); err != nil || e != cs.OK || ent != (IterEntry{"g\x00", 1, 2}) {
		t.Fatalf("DecodeIterNext: %v %v %v", ent, e, err)
	}
	// The generic error reply stands in for any response.
	if _, e, err := DecodeMembership(GenericError(cs.ErrTryAgain)); e != cs.ErrTryAgain || err != nil {
		t.Fatalf("generic reply as MEMBERSHIP: %v %v", e, err)
	}
	if _, err := DecodeStatus(EncodeStatus(ResLeave, cs.OK), ResJoin); err == nil {
		t.Fatal("LEAVE reply accepted as JOIN")
	}
}

func TestEventLayouts(t *testing.T) {
	cc := ConfChg{Group: "grp", Members: []Address{{1, 10, 0}, {2, 20, 0}}, Left: []Address{{3, 30, ReasonNodeDown}}, Joined: []Address{{2, 20, ReasonJoin}}}
	for _, tc := range []struct {
		name string
		ev   Event
		want []byte
	}{
		{"CONFCHG members, left, joined", cc, frame(184+4*24, cat(hdr(4, 280), []any{16, int32(1)}, name(24, "grp"),
			[]any{160, uint32(2), 168, uint32(1), 176, uint32(1)},
			addr(184, 1, 10, 0), addr(208, 2, 20, 0), addr(232, 3, 30, 3), addr(256, 2, 20, 1))...)},
		{"DELIVER", Deliver{Group: "grp", NodeID: 2, PID: 20, Msg: []byte("hi")},
			frame(186, cat(hdr(5, 186), []any{16, int32(1)}, name(24, "grp"), []any{160, uint32(2), 168, uint32(2), 176, uint32(20), 184, "hi"})...)},
		{"PARTIAL_DELIVER", PartialDeliver{Group: "g", MsgLen: 9, NodeID: 1, PID: 5, Type: PartialLast, Frag: []byte("abc")},
			frame(203, cat(hdr(17, 203), []any{16, int32(1)}, name(24, "g"), []any{160, uint32(9), 168, uint32(3), 176, uint32(1), 184, uint32(5), 192, uint32(3), 200, "abc"})...)},
		{"TOTEM_CONFCHG", TotemConfChg{Ring: RingID{NodeID: 1, Seq: 0x1f}, Members: []uint32{1, 2, 3}},
			frame(60, cat(hdr(13, 60), []any{16, int32(1), 24, uint32(1), 32, uint64(0x1f), 40, uint32(3), 44, uint32(1), 48, uint32(2), 52, uint32(3)})...)},
		{"TOTEM_CONFCHG empty", TotemConfChg{}, frame(48, cat(hdr(13, 48), []any{16, int32(1)})...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.ev.Encode(); !bytes.Equal(got, tc.want) {
				t.Fatalf("Encode:\n got %x\nwant %x", got, tc.want)
			}
			got, err := DecodeEvent(tc.want)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if !reflect.DeepEqual(normalize(got), normalize(tc.ev)) {
				t.Fatalf("DecodeEvent = %#v, want %#v", got, tc.ev)
			}
		})
	}
}

// normalize makes empty and nil lists compare equal.
func normalize(e Event) Event {
	switch v := e.(type) {
	case ConfChg:
		for _, l := range []*[]Address{&v.Members, &v.Left, &v.Joined} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		return v
	case TotemConfChg:
		if len(v.Members) == 0 {
			v.Members = nil
		}
		return v
	}
	return e
}

func TestEventErrors(t *testing.T) {
	cc := ConfChg{Group: "g", Members: []Address{{1, 1, 0}}}.Encode()
	ne.PutUint32(cc[176:], 1) // claims a left entry that is not there
	d := Deliver{Group: "g", Msg: []byte("abc")}.Encode()
	ne.PutUint32(d[160:], 4)
	tc := TotemConfChg{Members: []uint32{1}}.Encode()
	ne.PutUint32(tc[40:], 2)
	pd := PartialDeliver{Group: "g", MsgLen: 1, Type: PartialFirst, Frag: []byte("ab")}.Encode()
	nm := Deliver{Group: "g"}.Encode()
	ne.PutUint32(nm[24:], 200)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"confchg counts lie", cc, "1 members, 1 left, 0 joined"},
		{"deliver msglen lies", d, "msglen 4 but 3"},
		{"totem count lies", tc, "2 members"},
		{"partial frag > msg", pd, "larger than msglen"},
		{"name too long", nm, "group name length 200"},
		{"unknown id", frame(24, hdr(8, 24)...), "unknown id 8"},
		{"short", frame(30, hdr(5, 30)...), "shorter than 184"},
	} {
		if _, err := DecodeEvent(c.b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestFlowControlled(t *testing.T) {
	var fc []int32
	for id := int32(0); id < numRequestIDs; id++ {
		if FlowControlled(id) {
			fc = append(fc, id)
		}
	}
	if want := []int32{0, 1, 2, 8, 9, 10, 11, 12}; !reflect.DeepEqual(fc, want) {
		t.Fatalf("flow-controlled requests %v, want %v (addendum-317 §5)", fc, want)
	}
}
