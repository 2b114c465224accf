package store

import (
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

func mustConnect(t *testing.T, s *Store, c ConnID) {
	t.Helper()
	if err := s.Connect(c); err != nil {
		t.Fatal(err)
	}
}

func TestValidKeyName(t *testing.T) {
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'k'
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"abc", true}, {"ab", false}, {"", false}, {"a.b-c_d/e:f09AZ", true},
		{"sp ace", false}, {"ümlaut", false}, {"tab\tx", false},
		{string(long[:255]), true}, {string(long), false},
	} {
		if got := ValidKeyName(tc.name); got != tc.ok {
			t.Errorf("ValidKeyName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
	if got := ConvertName("node 1:é"); got != "node_1:__" {
		t.Errorf("ConvertName = %q", got)
	}
}

func TestSetCurrentMap(t *testing.T) {
	s := New()
	mustConnect(t, s, 1)
	for _, tc := range []struct {
		name string
		prep func()
		m    MapID
		want cs.Error
	}{
		{"stats", nil, MapStats, cs.OK},
		{"default", nil, MapIcmap, cs.OK},
		{"unknown", nil, 2, cs.ErrNotExist},
		{"busy with iterator", func() { s.IterInit(1, "") }, MapStats, cs.ErrBusy},
	} {
		if tc.prep != nil {
			tc.prep()
		}
		if got := s.SetCurrentMap(1, tc.m); got != tc.want {
			t.Errorf("%s: SetCurrentMap(%d) = %v, want %v", tc.name, tc.m, got, tc.want)
		}
	}
	mustConnect(t, s, 2)
	if _, err := s.TrackAdd(2, "a.", TrackAdd|TrackPrefix, 1); err != cs.OK {
		t.Fatal(err)
	}
	if got := s.SetCurrentMap(2, MapStats); got != cs.ErrBusy {
		t.Errorf("switch with a tracker = %v, want CS_ERR_BUSY", got)
	}
	if err := s.SetCurrentMap(9, MapStats); err != cs.ErrBadHandle {
		t.Errorf("unknown connection = %v", err)
	}
	if s.Connect(Internal) == nil || s.Connect(1) == nil {
		t.Error("Connect accepted a reserved or duplicate id")
	}
}

func TestDisconnectDropsTrackersAndIterators(t *testing.T) {
	s := New()
	mustConnect(t, s, 1)
	mustConnect(t, s, 2)
	h, _ := s.TrackAdd(1, "", TrackAdd|TrackPrefix, 10)
	s.TrackAdd(2, "", TrackAdd|TrackPrefix, 20)
	it, _ := s.IterInit(1, "")
	if r := s.ClientSet(2, "k.one", value.Uint8, []byte{1}); len(r.Events) != 2 {
		t.Fatalf("events before disconnect = %d, want 2", len(r.Events))
	}
	s.Disconnect(1)
	r := s.ClientSet(2, "k.two", value.Uint8, []byte{1})
	if len(r.Events) != 1 || r.Events[0].Conn != 2 || r.Events[0].Cookie != 20 {
		t.Fatalf("events after disconnect = %+v", r.Events)
	}
	mustConnect(t, s, 1) // same id again: nothing left over
	if _, err := s.IterNext(1, it); err != cs.ErrBadHandle {
		t.Errorf("old iterator after reconnect = %v", err)
	}
	if _, err := s.TrackDelete(1, h); err != cs.ErrBadHandle {
		t.Errorf("old tracker after reconnect = %v", err)
	}
	// Handles are per connection: 2 cannot use 1's.
	h1, _ := s.TrackAdd(1, "x", TrackAdd, 5)
	if _, err := s.TrackDelete(2, h1); err != cs.ErrBadHandle {
		t.Errorf("foreign tracker = %v", err)
	}
	if cookie, err := s.TrackDelete(1, h1); err != cs.OK || cookie != 5 {
		t.Errorf("TrackDelete = %d, %v", cookie, err)
	}
}

func TestInternalWritesIgnoreReadOnly(t *testing.T) {
	s := New()
	mustConnect(t, s, 1)
	if r := s.Set("runtime.config.totem.token", value.U32(3000)); r.Err != cs.OK {
		t.Fatalf("daemon write = %v", r.Err)
	}
	if r := s.ClientSet(1, "runtime.config.totem.token", value.Uint32, []byte{1, 0, 0, 0}); r.Err != cs.ErrAccess {
		t.Fatalf("client write = %v", r.Err)
	}
	if err := s.SetReadOnly("quorum.wait_for_all", false, true); err != cs.OK {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key        string
		prefix, ro bool
		want       cs.Error
	}{
		{"quorum.wait_for_all", false, true, cs.ErrExist},
		{"quorum.nothing", false, false, cs.ErrNotExist},
		{"system.", true, true, cs.ErrExist},
		{"system.", true, false, cs.OK},
		{"system.", true, false, cs.ErrNotExist},
	} {
		if got := s.SetReadOnly(tc.key, tc.prefix, tc.ro); got != tc.want {
			t.Errorf("SetReadOnly(%q,%v,%v) = %v, want %v", tc.key, tc.prefix, tc.ro, got, tc.want)
		}
	}
	if s.IsReadOnly("system.x") || !s.IsReadOnly("quorum.wait_for_all") {
		t.Error("read-only rules not applied")
	}
}

func TestInternalTrackAndFastAdjust(t *testing.T) {
	s := New()
	h, err := s.Track("totem.config_version", TrackAdd|TrackDelete|TrackModify, 99)
	if err != cs.OK {
		t.Fatal(err)
	}
	r := s.Set("totem.config_version", value.U64(3))
	if len(r.Events) != 1 || r.Events[0].Conn != Internal || r.Events[0].Cookie != 99 || r.Events[0].Kind != TrackAdd {
		t.Fatalf("internal tracker events = %+v", r.Events)
	}
	s.Set("runtime.services.cmap.0.tx", value.U64(0))
	s.Track("runtime.services.", TrackModify|TrackPrefix, 1)
	r = s.FastAdjust("runtime.services.cmap.0.tx", 1)
	if len(r.Events) != 1 || !r.Events[0].Old.IsZero() || !r.Events[0].New.Equal(value.U64(1)) {
		t.Fatalf("fast adjust event = %+v", r.Events)
	}
	if s.Untrack(h) != cs.OK || s.Untrack(h) != cs.ErrBadHandle {
		t.Error("Untrack")
	}
	if r := s.Delete("totem.config_version"); r.Err != cs.OK || len(r.Events) != 0 {
		t.Errorf("delete after untrack = %+v", r)
	}
	if got := s.Keys("runtime."); len(got) != 1 || got[0] != "runtime.services.cmap.0.tx" {
		t.Errorf("Keys = %v", got)
	}
}

func TestIteratorEndsForGood(t *testing.T) {
	s := New()
	mustConnect(t, s, 1)
	s.Set("a.b.c", value.U8(1))
	h, _ := s.IterInit(1, "a.")
	if e, err := s.IterNext(1, h); err != cs.OK || e.Key != "a.b.c" || e.Len != 1 || e.Type != value.Uint8 {
		t.Fatalf("first = %+v %v", e, err)
	}
	if _, err := s.IterNext(1, h); err != cs.ErrNoSections {
		t.Fatalf("end = %v", err)
	}
	s.Set("a.z", value.U8(1))
	if _, err := s.IterNext(1, h); err != cs.ErrNoSections {
		t.Fatalf("after end = %v, want CS_ERR_NO_SECTIONS for good", err)
	}
}

func TestStatsMap(t *testing.T) {
	s := New()
	mustConnect(t, s, 1)
	s.PutStat("stats.srp.mcast_tx", value.U64(8))
	s.PutStat("stats.ipcs.global.active", value.U64(1))
	if err := s.SetCurrentMap(1, MapStats); err != cs.OK {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		r    Result
		want cs.Error
		cl   StatsClear
	}{
		{"set counter", s.ClientSet(1, "stats.srp.mcast_tx", value.Uint64, make([]byte, 8)), cs.ErrAccess, 0},
		{"set clear.all", s.ClientSet(1, "stats.clear.all", value.Uint32, []byte{1, 0, 0, 0}), cs.OK, ClearAll},
		{"set clear.ipc any type", s.ClientSet(1, "stats.clear.ipc", value.String, []byte("x")), cs.OK, ClearIPC},
		{"set clear.totemx prefix match", s.ClientSet(1, "stats.clear.totemx", value.Uint8, []byte{1}), cs.OK, ClearTotem},
		{"set clear.foo", s.ClientSet(1, "stats.clear.foo", value.Uint8, []byte{1}), cs.ErrNotSupported, 0},
		{"delete counter", s.ClientDelete(1, "stats.srp.mcast_tx"), cs.ErrAccess, 0},
		{"delete clear", s.ClientDelete(1, "stats.clear.all"), cs.ErrNotSupported, 0},
		{"adjust counter", s.ClientAdjust(1, "stats.srp.mcast_tx", 1), cs.ErrAccess, 0},
		{"adjust clear", s.ClientAdjust(1, "stats.clear.all", 1), cs.ErrNotSupported, 0},
	} {
		if tc.r.Err != tc.want || tc.r.Clear != tc.cl {
			t.Errorf("%s: %v clear %b, want %v clear %b", tc.name, tc.r.Err, tc.r.Clear, tc.want, tc.cl)
		}
	}
	if v, err := s.ClientGet(1, "stats.srp.mcast_tx"); err != cs.OK || !v.Equal(value.U64(8)) {
		t.Errorf("get = %v %v", v, err)
	}
	if _, err := s.TrackAdd(1, "stats.ipcs.", TrackAdd|TrackPrefix, 1); err != cs.ErrNotSupported {
		t.Errorf("prefix track without DELETE = %v", err)
	}
	if _, err := s.TrackAdd(1, "stats.ipcs.", TrackAdd|TrackDelete|TrackModify|TrackPrefix, 7); err != cs.OK {
		t.Fatal(err)
	}
	if _, err := s.TrackAdd(1, "stats.srp.mcast_tx", TrackAdd, 8); err != cs.OK {
		t.Fatal(err)
	}
	conn := "stats.ipcs.service0.42.0x1."
	var evs []Event
	evs = append(evs, s.PutStat(conn+"procname", value.Str("corosync-cmapct"))...)
	evs = append(evs, s.PutStat(conn+"requests", value.U64(0))...)
	evs = append(evs, s.PutStat(conn+"requests", value.U64(3))...) // refresh: no event
	evs = append(evs, s.PutStat("stats.schedmiss.0.delay", value.F32(12))...)
	evs = append(evs, s.RemoveStat(conn+"requests")...)
	want := []struct {
		kind int32
		key  string
		v    value.Value
	}{
		{TrackAdd, conn + "procname", value.Str("corosync-cmapct")},
		{TrackAdd, conn + "requests", value.U64(0)},
		{TrackDelete, conn + "requests", value.U64(3)},
	}
	if len(evs) != len(want) {
		t.Fatalf("events = %+v", evs)
	}
	for i, w := range want {
		e := evs[i]
		if e.Kind != w.kind || e.Key != w.key || !e.New.Equal(w.v) || !e.Old.Equal(w.v) || e.Cookie != 7 {
			t.Errorf("event %d = %+v, want %v %s %v in new and old", i, e, w.kind, w.key, w.v)
		}
	}
	// Iteration reports fixed sizes only: procname has length 0.
	h, _ := s.IterInit(1, conn)
	if e, err := s.IterNext(1, h); err != cs.OK || e.Key != conn+"procname" || e.Len != 0 || e.Type != value.String {
		t.Errorf("stats iteration = %+v %v", e, err)
	}
	// Polling: the exact tracker fires MODIFY (although it asked only for
	// ADD) once per change, new == old == current.
	if evs := s.PollStats(); len(evs) != 0 {
		t.Errorf("poll without change = %+v", evs)
	}
	s.PutStat("stats.srp.mcast_tx", value.U64(9))
	evs = s.PollStats()
	if len(evs) != 1 || evs[0].Kind != TrackModify || !evs[0].New.Equal(value.U64(9)) || !evs[0].Old.Equal(value.U64(9)) || evs[0].Cookie != 8 {
		t.Errorf("poll = %+v", evs)
	}
	if evs := s.PollStats(); len(evs) != 0 {
		t.Errorf("second poll = %+v", evs)
	}
	s.Disconnect(1)
	if len(s.stats.tracks) != 0 {
		t.Errorf("stats trackers left after disconnect: %d", len(s.stats.tracks))
	}
}
