package wire

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// f is one field of a hand-laid message: width 4 or 8 bytes at off, or a
// string copied at off (width 0).
type f struct {
	off, width int
	v          uint64
	s          string
}

// layout builds the bytes a C client or corosync would: size bytes, the
// header's id@0 and size@8 (plus error@16 for responses), then fields.
// It is independent of the encoders under test.
func layout(id int32, size int, resp bool, fields ...f) []byte {
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b[0:], uint32(id))
	binary.LittleEndian.PutUint32(b[8:], uint32(size))
	if resp {
		binary.LittleEndian.PutUint32(b[16:], uint32(cs.OK))
	}
	for _, x := range fields {
		switch x.width {
		case 4:
			binary.LittleEndian.PutUint32(b[x.off:], uint32(x.v))
		case 8:
			binary.LittleEndian.PutUint64(b[x.off:], x.v)
		default:
			copy(b[x.off:], x.s)
		}
	}
	return b
}

func u32(off int, v uint64) f             { return f{off: off, width: 4, v: v} }
func u64(off int, v uint64) f             { return f{off: off, width: 8, v: v} }
func str(off int, s string) f             { return f{off: off, s: s} }
func withErr(b []byte, e cs.Error) []byte { binary.LittleEndian.PutUint32(b[16:], uint32(e)); return b }

func TestQuorumRequests(t *testing.T) {
	cases := []struct {
		req  QRequest
		want []byte
	}{
		{QGetQuorate{}, layout(0, 16, false)},
		{QTrackStart{Flags: TrackCurrent | TrackChanges}, layout(1, 24, false, u32(16, 3))},
		{QTrackStop{}, layout(2, 16, false)},
		{QGetType{}, layout(3, 16, false)},
		{QModelGetType{Model: ModelV1}, layout(4, 24, false, u32(16, 1))},
	}
	for _, c := range cases {
		got := c.req.Encode()
		if !bytes.Equal(got, c.want) {
			t.Errorf("%T encodes\n%x\nwant\n%x", c.req, got, c.want)
		}
		back, err := DecodeQRequest(c.want)
		if err != nil || !reflect.DeepEqual(back, c.req) {
			t.Errorf("decode %T: %#v, %v", c.req, back, err)
		}
		if back.ID() != c.req.ID() {
			t.Errorf("%T: id %d", c.req, back.ID())
		}
	}
}

func TestVotequorumRequests(t *testing.T) {
	cases := []struct {
		req  VQRequest
		want []byte
	}{
		{VQGetInfo{NodeID: 7}, layout(0, 24, false, u32(16, 7))},
		{VQSetExpected{Expected: 3}, layout(1, 24, false, u32(16, 3))},
		{VQSetVotes{Votes: 2, NodeID: 5}, layout(2, 24, false, u32(16, 2), u32(20, 5))},
		{VQTrackStart{Context: 0x1122334455667788, Flags: 2}, layout(3, 32, false, u64(16, 0x1122334455667788), u32(24, 2))},
		{VQTrackStop{}, layout(4, 16, false)},
		{VQQdeviceRegister{Name: "Qdevice"}, layout(5, 272, false, str(16, "Qdevice"))},
		{VQQdeviceUnregister{Name: "Qdevice"}, layout(6, 272, false, str(16, "Qdevice"))},
		{VQQdeviceUpdate{OldName: "old", NewName: "new"}, layout(7, 528, false, str(16, "old"), str(271, "new"))},
		{VQQdevicePoll{Name: "dev", CastVote: 1, Ring: RingID{NodeID: 2, Seq: 0x10}}, layout(8, 296, false, str(16, "dev"), u32(272, 1), u32(280, 2), u64(288, 0x10))},
		{VQQdeviceMasterWins{Name: "dev", Allow: 1}, layout(9, 280, false, str(16, "dev"), u32(272, 1))},
	}
	for _, c := range cases {
		got := c.req.Encode()
		if !bytes.Equal(got, c.want) {
			t.Errorf("%T encodes\n%x\nwant\n%x", c.req, got, c.want)
		}
		back, err := DecodeVQRequest(c.want)
		if err != nil || !reflect.DeepEqual(back, c.req) {
			t.Errorf("decode %T: %#v, %v", c.req, back, err)
		}
		if back.ID() != c.req.ID() {
			t.Errorf("%T: id %d", c.req, back.ID())
		}
	}
}

// Names: libvotequorum strcpy()s into an unzeroed array, so bytes after
// the NUL are garbage and must be ignored.
func TestNameGarbageAfterNUL(t *testing.T) {
	b := layout(5, 272, false, str(16, "dev\x00\xff\xfegarbage"))
	r, err := DecodeVQRequest(b)
	if err != nil || r.(VQQdeviceRegister).Name != "dev" {
		t.Fatalf("got %#v, %v", r, err)
	}
	long := layout(5, 272, false, str(16, strings.Repeat("x", 255)))
	if _, err := DecodeVQRequest(long); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("name without NUL: %v", err)
	}
	long = layout(7, 528, false, str(16, "a"), str(271, strings.Repeat("y", 255)))
	if _, err := DecodeVQRequest(long); err == nil || !strings.Contains(err.Error(), "newname") {
		t.Fatalf("newname without NUL: %v", err)
	}
	if err := CheckName("", "register"); err == nil {
		t.Error("empty name accepted")
	}
	if err := CheckName(strings.Repeat("n", 255), "register"); err == nil {
		t.Error("255-byte name accepted")
	}
	if err := CheckName(strings.Repeat("n", 254), "register"); err != nil {
		t.Error(err)
	}
}

func TestBadRequests(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		vq   bool
		want string
	}{
		{"short header", make([]byte, 8), false, "shorter than its 16-byte header"},
		{"size mismatch", func() []byte { b := layout(0, 16, false); b[8] = 20; return b }(), false, "header size 20 but 16"},
		{"unknown quorum id", layout(5, 16, false), false, "unknown id 5"},
		{"quorum trackstart short", layout(1, 16, false), false, "16 bytes, want 24"},
		{"quorum getquorate long", layout(0, 24, false), false, "24 bytes, want 16"},
		{"unknown votequorum id", layout(10, 16, false), true, "unknown id 10"},
		{"negative size", func() []byte { b := layout(0, 24, false); binary.LittleEndian.PutUint32(b[8:], 0xffffffff); return b }(), true, "header size -1"},
		{"votequorum poll short", layout(8, 280, false, str(16, "a")), true, "280 bytes, want 296"},
		{"votequorum getinfo bare", layout(0, 16, false), true, "16 bytes, want 24"},
	}
	for _, c := range cases {
		var err error
		if c.vq {
			_, err = DecodeVQRequest(c.b)
		} else {
			_, err = DecodeQRequest(c.b)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestQuorumReplies(t *testing.T) {
	if got, want := EncodeQValue(QResGetQuorate, 1, cs.OK), layout(0, 32, true, u32(24, 1)); !bytes.Equal(got, want) {
		t.Errorf("getquorate %x want %x", got, want)
	}
	if got, want := EncodeQValue(QResModelGetType, QuorumSet, cs.OK), layout(5, 32, true, u32(24, 1)); !bytes.Equal(got, want) {
		t.Errorf("model_gettype %x want %x", got, want)
	}
	if got, want := EncodeQStatus(QResTrackStart, cs.ErrExist), withErr(layout(1, 24, true), cs.ErrExist); !bytes.Equal(got, want) {
		t.Errorf("trackstart %x want %x", got, want)
	}
	v, st, err := DecodeQValue(layout(4, 32, true, u32(24, 1)), QResGetType)
	if v != 1 || st != cs.OK || err != nil {
		t.Errorf("gettype: %d %v %v", v, st, err)
	}
	// corosync's generic error reply stands in for any response.
	v, st, err = DecodeQValue(GenericError(cs.ErrInvalidParam), QResGetQuorate)
	if v != 0 || st != cs.ErrInvalidParam || err != nil {
		t.Errorf("generic: %d %v %v", v, st, err)
	}
	if _, _, err := DecodeQValue(layout(4, 32, true), QResGetQuorate); err == nil {
		t.Error("wrong id accepted")
	}
	if _, _, err := DecodeQValue(layout(0, 28, true), QResGetQuorate); err == nil {
		t.Error("short reply accepted")
	}
	if st, err := DecodeQStatus(layout(2, 24, true), QResTrackStop); st != cs.OK || err != nil {
		t.Errorf("trackstop: %v %v", st, err)
	}
	if got := GenericError(cs.ErrInvalidParam); !bytes.Equal(got, withErr(layout(0, 24, true), cs.ErrInvalidParam)) {
		t.Errorf("generic error %x", got)
	}
}

func TestQuorumEvents(t *testing.T) {
	cases := []struct {
		ev   interface{ Encode() []byte }
		want []byte
	}{
		// Verified sizes (client-api.md §10): 1 member → 52 bytes.
		{QNotification{Quorate: 1, RingSeq: 0xa, View: []uint32{1}}, layout(3, 52, true, u32(24, 1), u64(32, 0xa), u32(40, 1), u32(44, 1))},
		{QNotification{Quorate: 0, RingSeq: 5, View: []uint32{3, 1, 2}}, layout(3, 60, true, u64(32, 5), u32(40, 3), u32(44, 3), u32(48, 1), u32(52, 2))},
		{QNotification{}, layout(3, 48, true)},
		{QV1Quorum{Quorate: 1, Ring: RingID{1, 0x10}, View: []uint32{1}}, layout(6, 60, true, u32(24, 1), u32(32, 1), u64(40, 0x10), u32(48, 1), u32(52, 1))},
		// 1 member + 1 joined → 72 bytes.
		{QV1Nodelist{Ring: RingID{1, 0x16}, Members: []uint32{1, 2}, Joined: []uint32{2}, Left: []uint32{}},
			layout(7, 76, true, u32(24, 1), u64(32, 0x16), u32(40, 2), u32(48, 1), u32(56, 0), u32(60, 1), u32(64, 2), u32(68, 2))},
		{QV1Nodelist{Ring: RingID{1, 2}, Members: []uint32{1}, Joined: []uint32{}, Left: []uint32{2, 3}},
			layout(7, 76, true, u32(24, 1), u64(32, 2), u32(40, 1), u32(48, 0), u32(56, 2), u32(60, 1), u32(64, 2), u32(68, 3))},
	}
	for _, c := range cases {
		got := c.ev.Encode()
		if !bytes.Equal(got, c.want) {
			t.Errorf("%T encodes\n%x\nwant\n%x", c.ev, got, c.want)
		}
		back, err := DecodeQEvent(c.want)
		if err != nil {
			t.Errorf("decode %T: %v", c.ev, err)
			continue
		}
		if !reflect.DeepEqual(normalize(back), normalize(c.ev)) {
			t.Errorf("decode %T: %#v", c.ev, back)
		}
	}
	bad := []struct {
		name string
		b    []byte
		want string
	}{
		{"v0 count beyond bytes", layout(3, 52, true, u32(40, 2)), "needs 56 bytes, 52 arrived"},
		{"v0 short", layout(3, 40, true), "shorter than its 48-byte fixed part"},
		{"v1 nodelist sum", layout(7, 68, true, u32(40, 1), u32(48, 1)), "need 72 bytes"},
		{"huge count", layout(3, 48, true, u32(40, 0xffffffff)), "exceeds 386"},
		{"unknown id", layout(9, 24, true), "unknown id 9"},
	}
	for _, c := range bad {
		if _, err := DecodeQEvent(c.b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestVotequorumReplies(t *testing.T) {
	info := VQInfo{NodeID: 1, State: NodeMember, Votes: 1, Expected: 3, HighestExpected: 3, TotalVotes: 1, Quorum: 2,
		Flags: InfoWaitForAll | InfoQdeviceRegistered, QdeviceVotes: 2, QdeviceName: "Qdevice"}
	want := layout(1, 320, true, u32(24, 1), u32(28, 1), u32(32, 1), u32(36, 3), u32(40, 3), u32(44, 1), u32(48, 2), u32(52, 68), u32(56, 2), str(60, "Qdevice"))
	if got := EncodeVQGetInfo(info, cs.OK); !bytes.Equal(got, want) {
		t.Errorf("getinfo\n%x\nwant\n%x", got, want)
	}
	back, st, err := DecodeVQGetInfo(want)
	if err != nil || st != cs.OK || back != info {
		t.Errorf("decode getinfo: %#v %v %v", back, st, err)
	}
	// NOT_EXIST comes with the full 320 bytes.
	_, st, err = DecodeVQGetInfo(EncodeVQGetInfo(VQInfo{}, cs.ErrNotExist))
	if st != cs.ErrNotExist || err != nil {
		t.Errorf("not exist: %v %v", st, err)
	}
	_, st, err = DecodeVQGetInfo(GenericError(cs.ErrInvalidParam))
	if st != cs.ErrInvalidParam || err != nil {
		t.Errorf("generic: %v %v", st, err)
	}
	if _, _, err := DecodeVQGetInfo(layout(1, 300, true)); err == nil {
		t.Error("short getinfo accepted")
	}
	if got := EncodeVQStatus(cs.ErrNameNotFound); !bytes.Equal(got, withErr(layout(0, 24, true), cs.ErrNameNotFound)) {
		t.Errorf("status %x", got)
	}
	if st, err := DecodeVQStatus(withErr(layout(0, 24, true), cs.ErrMessageError)); st != cs.ErrMessageError || err != nil {
		t.Errorf("status decode %v %v", st, err)
	}
}

func TestVotequorumEvents(t *testing.T) {
	cases := []struct {
		ev   interface{ Encode() []byte }
		want []byte
	}{
		{VQQuorum{Quorate: 0, Context: 9, Nodes: []VQNode{{2, NodeDead}, {1, NodeMember}}},
			layout(3, 64, true, u64(32, 9), u32(40, 2), u32(48, 2), u32(52, 2), u32(56, 1), u32(60, 1))},
		{VQExpectedVotes{Context: 9, Expected: 2}, layout(4, 40, true, u64(24, 9), u32(32, 2))},
		// Verified: 1 node → 60 bytes.
		{VQNodelist{Context: 0, Ring: RingID{1, 0xa}, Nodes: []uint32{1}}, layout(5, 60, true, u32(32, 1), u64(40, 0xa), u32(48, 1), u32(56, 1))},
	}
	for _, c := range cases {
		got := c.ev.Encode()
		if !bytes.Equal(got, c.want) {
			t.Errorf("%T encodes\n%x\nwant\n%x", c.ev, got, c.want)
		}
		back, err := DecodeVQEvent(c.want)
		if err != nil || !reflect.DeepEqual(normalize(back), normalize(c.ev)) {
			t.Errorf("decode %T: %#v %v", c.ev, back, err)
		}
	}
	bad := []struct {
		name string
		b    []byte
		want string
	}{
		{"quorum count", layout(3, 56, true, u32(40, 2)), "2 nodes need 64 bytes"},
		{"nodelist count", layout(5, 56, true, u32(48, 1)), "1 nodes need 60 bytes"},
		{"expected size", layout(4, 48, true), "48 bytes, want 40"},
		{"unknown", layout(6, 24, true), "unknown id 6"},
	}
	for _, c := range bad {
		if _, err := DecodeVQEvent(c.b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// normalize makes nil and empty lists compare equal.
func normalize(v any) any {
	e := func(l []uint32) []uint32 {
		if len(l) == 0 {
			return nil
		}
		return l
	}
	switch x := v.(type) {
	case QNotification:
		x.View = e(x.View)
		return x
	case QV1Quorum:
		x.View = e(x.View)
		return x
	case QV1Nodelist:
		x.Members, x.Joined, x.Left = e(x.Members), e(x.Joined), e(x.Left)
		return x
	case VQNodelist:
		x.Nodes = e(x.Nodes)
		return x
	case VQQuorum:
		if len(x.Nodes) == 0 {
			x.Nodes = nil
		}
		return x
	}
	return v
}
