package cfgver

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// wantMsg builds a one-item message by hand from spec/cmap.md §8.
func wantMsg(reason uint8, typ uint8, val []byte) []byte {
	size := 48 + (280+len(val)+7)/8*8
	b := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(b[8:], uint32(size))
	b[16] = reason
	b[24] = 1
	le.PutUint16(b[48:], uint16(len(Key)))
	copy(b[56:], Key)
	b[48+264] = typ
	le.PutUint64(b[48+272:], uint64(len(val)))
	copy(b[48+280:], val)
	return b
}

func TestMessageLayout(t *testing.T) {
	s := New(1)
	// Captured from 3.1.7: "cmap:0 size=328", item type 0, length 0.
	got := s.SyncProcess(value.Value{}, false)
	if len(got) != 328 || !bytes.Equal(got, wantMsg(ReasonSync, 0, nil)) {
		t.Fatalf("SYNC without key:\n got %x\nwant %x", got, wantMsg(ReasonSync, 0, nil))
	}
	v := value.U64(0x0102030405060708)
	got = s.ConfigVersionChanged(v, true)
	want := wantMsg(ReasonNewConfigVersion, 8, []byte{8, 7, 6, 5, 4, 3, 2, 1})
	if len(got) != 336 || !bytes.Equal(got, want) {
		t.Fatalf("NEW_CONFIG_VERSION:\n got %x\nwant %x", got, want)
	}
	m, err := Decode(got, false)
	if err != nil || m.Reason != ReasonNewConfigVersion || len(m.Items) != 1 || m.Items[0].Key != Key || m.Version() != 0x0102030405060708 {
		t.Fatalf("Decode = %+v, %v", m, err)
	}
	// A sender of the other byte order: header, lengths and the u64 swapped.
	sw := append([]byte(nil), want...)
	be := binary.BigEndian
	be.PutUint32(sw[8:], 336)
	be.PutUint16(sw[48:], uint16(len(Key)))
	be.PutUint64(sw[48+272:], 8)
	be.PutUint64(sw[48+280:], 0x0102030405060708)
	if m, err := Decode(sw, true); err != nil || m.Version() != 0x0102030405060708 {
		t.Fatalf("swapped Decode = %+v, %v", m, err)
	}
	if _, err := (Message{Items: make([]Item, MaxItems+1)}).Encode(); err == nil {
		t.Error("33 items encoded")
	}
}

func TestDecodeRejects(t *testing.T) {
	good := wantMsg(ReasonSync, 8, make([]byte, 8))
	trunc := append([]byte(nil), good[:200]...)
	binary.LittleEndian.PutUint32(trunc[8:], 200)
	long := append([]byte(nil), good...)
	binary.LittleEndian.PutUint64(long[48+272:], 1<<40)
	many := append([]byte(nil), good...)
	many[24] = 2
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short", good[:40], "shorter than its 48-byte header"},
		{"size lies", good[:300], "header size 336 but 300"},
		{"item cut", trunc, "item 0 of 1 at byte 48 runs past"},
		{"value_len too big", long, "value_len 1099511627776 runs past"},
		{"more items than bytes", many, "item 1 of 2"},
	} {
		if _, err := Decode(tc.b, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestVersionOfItems(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Message
		want uint64
	}{
		{"absent key", Message{Items: []Item{{Key: "other.key", Value: value.U64(9)}}}, 0},
		{"not exist", Message{Items: []Item{{Key: Key}}}, 0},
		{"u32 ignored", Message{Items: []Item{{Key: Key, Value: value.U32(9)}}}, 0},
		{"second item", Message{Items: []Item{{Key: "a.b", Value: value.U8(1)}, {Key: Key, Value: value.U64(7)}}}, 7},
	} {
		b, err := tc.m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		m, err := Decode(b, false)
		if err != nil || m.Version() != tc.want {
			t.Errorf("%s: version %d (%v), want %d", tc.name, m.Version(), err, tc.want)
		}
	}
}

func TestSyncActivate(t *testing.T) {
	type recv struct {
		from uint32
		ver  uint64
	}
	for _, tc := range []struct {
		name     string
		mine     uint64
		trans    []uint32
		received []recv
		shutdown string
	}{
		{"single node start", 5, nil, []recv{{1, 5}}, ""},
		{"same version", 5, []uint32{1}, []recv{{1, 5}, {2, 5}}, ""},
		{"my version 0", 0, []uint32{1}, []recv{{2, 9}}, ""},
		{"others older: highest starts at mine", 5, []uint32{1}, []recv{{2, 3}}, ""},
		{"others newer", 5, []uint32{1}, []recv{{2, 7}, {3, 6}}, "Received config version (7) is different than my config version (5)! Exiting"},
		{"others have none", 5, []uint32{1}, []recv{{2, 0}}, ""},
		{"own message does not count", 5, []uint32{1}, []recv{{1, 9}}, ""},
	} {
		s := New(1)
		s.SyncInit(tc.trans, []uint32{1, 2, 3}, value.U64(tc.mine), tc.mine != 0)
		for _, r := range tc.received {
			msg := s.SyncProcess(value.U64(r.ver), r.ver != 0)
			key, v, ok, err := s.Deliver(r.from, msg, false)
			if err != nil || !ok || key != MemberKey(r.from) || !v.Equal(value.U64(r.ver)) {
				t.Fatalf("%s: Deliver = %q %v %v %v", tc.name, key, v, ok, err)
			}
		}
		down, reason := s.SyncActivate()
		if down != (tc.shutdown != "") || reason != tc.shutdown {
			t.Errorf("%s: SyncActivate = %v %q, want %q", tc.name, down, reason, tc.shutdown)
		}
	}
	// Only the first sync with other members decides.
	s := New(1)
	s.SyncInit([]uint32{1}, []uint32{1, 2}, value.U64(5), true)
	s.Deliver(2, s.SyncProcess(value.U64(5), true), false)
	if down, _ := s.SyncActivate(); down {
		t.Fatal("first sync shut down")
	}
	s.SyncInit([]uint32{1}, []uint32{1, 3}, value.U64(5), true)
	s.Deliver(3, s.SyncProcess(value.U64(8), true), false)
	if down, _ := s.SyncActivate(); down {
		t.Error("second sync shut down")
	}
	// Unknown reasons are ignored.
	b, _ := Message{Reason: 7, Items: []Item{{Key: Key, Value: value.U64(1)}}}.Encode()
	if _, _, ok, err := s.Deliver(2, b, false); ok || err != nil {
		t.Errorf("unknown reason: ok %v err %v", ok, err)
	}
}

// TestLoopbackThroughStore replays what corosync-cmapctl showed on the real
// daemon: a client sets totem.config_version to 1, cmap announces it, and
// its own delivery sets runtime.members.1.config_version to 1.
func TestLoopbackThroughStore(t *testing.T) {
	st := store.New()
	svc := New(1)
	if _, err := st.Track(Key, TrackFlags, 0); err != cs.OK {
		t.Fatal(err)
	}
	if err := st.Connect(5); err != nil {
		t.Fatal(err)
	}
	r := st.ClientSet(5, Key, value.Uint64, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	if r.Err != cs.OK || len(r.Events) != 1 || r.Events[0].Conn != store.Internal {
		t.Fatalf("set = %+v", r)
	}
	v, ok := st.Get(Key)
	msg := svc.ConfigVersionChanged(v, ok)
	key, mv, ok, err := svc.Deliver(1, msg, false)
	if err != nil || !ok {
		t.Fatal(err)
	}
	st.Set(key, mv)
	if got, _ := st.Get("runtime.members.1.config_version"); !got.Equal(value.U64(1)) {
		t.Errorf("runtime.members.1.config_version = %v", got)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(wantMsg(ReasonSync, 0, nil), false)
	f.Add(wantMsg(ReasonNewConfigVersion, 8, make([]byte, 8)), true)
	f.Fuzz(func(t *testing.T, b []byte, swapped bool) {
		m, err := Decode(b, swapped)
		if err != nil {
			return
		}
		m.Version()
		if len(m.Items) > 255 {
			t.Fatalf("%d items", len(m.Items))
		}
	})
}
