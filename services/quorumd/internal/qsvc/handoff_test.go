package qsvc

import (
	"reflect"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// TestSaveLoad: a service loaded from its saved state under new client
// keys behaves as the original (same outputs for the same inputs, keys
// mapped), forgets a client not handed over, and refuses states it never
// gets into.
func TestSaveLoad(t *testing.T) {
	s := New(true)
	for _, c := range []string{"a", "b", "c", "d"} {
		s.Connect(c)
	}
	req(t, s, "b", wire.QModelGetType{Model: wire.ModelV1})
	req(t, s, "c", wire.QModelGetType{Model: wire.ModelV1})
	req(t, s, "a", wire.QTrackStart{Flags: wire.TrackChanges})
	req(t, s, "b", wire.QTrackStart{Flags: wire.TrackCurrent | wire.TrackChanges})
	req(t, s, "d", wire.QTrackStart{Flags: wire.TrackChangesOnly})
	s.SyncInit([]uint32{1}, []uint32{1, 2}, wire.RingID{NodeID: 1, Seq: 8})
	s.SyncActivate()
	s.SetQuorum([]uint32{1, 2}, true, wire.RingID{NodeID: 1, Seq: 8})
	ids := map[string]uint64{"a": 10, "b": 11, "c": 12, "d": 13}
	st := s.Save(func(c any) uint64 { return ids[c.(string)] })
	keys := map[uint64]any{10: "A", 11: "B", 12: "C", 13: "D"}
	r, missing, err := Load(true, st, keys)
	if err != nil || len(missing) != 0 {
		t.Fatalf("load: %v %v", missing, err)
	}
	upper := map[any]any{"a": "A", "b": "B", "c": "C", "d": "D"}
	same := func(a, b []Out) {
		t.Helper()
		if len(a) != len(b) {
			t.Fatalf("%d outputs vs %d", len(a), len(b))
		}
		for i := range a {
			if upper[a[i].Client] != b[i].Client || a[i].Event != b[i].Event || string(a[i].Msg) != string(b[i].Msg) {
				t.Fatalf("output %d: %+v vs %+v", i, a[i], b[i])
			}
		}
	}
	o1, _ := s.SetQuorum([]uint32{1}, false, wire.RingID{NodeID: 1, Seq: 12})
	o2, _ := r.SetQuorum([]uint32{1}, false, wire.RingID{NodeID: 1, Seq: 12})
	same(o1, o2)
	s.SyncInit([]uint32{1}, []uint32{1, 3}, wire.RingID{NodeID: 1, Seq: 16})
	r.SyncInit([]uint32{1}, []uint32{1, 3}, wire.RingID{NodeID: 1, Seq: 16})
	same(s.SyncActivate(), r.SyncActivate())
	for _, c := range []string{"a", "b", "c", "d"} {
		o1, _ := s.Request(c, wire.QTrackStart{Flags: wire.TrackCurrent}.Encode())
		o2, _ := r.Request(upper[c], wire.QTrackStart{Flags: wire.TrackCurrent}.Encode())
		same(o1, o2)
	}
	if again := r.Save(func(c any) uint64 { return ids[strings.ToLower(c.(string))] }); !reflect.DeepEqual(again, s.Save(func(c any) uint64 { return ids[c.(string)] })) {
		t.Fatalf("saved states differ:\n%+v\n%+v", again, st)
	}
	// b's connection did not make it: forgotten, tracking included.
	r, missing, err = Load(true, st, map[uint64]any{10: "A", 12: "C", 13: "D"})
	if err != nil || !reflect.DeepEqual(missing, []uint64{11}) || len(r.trackers) != 2 || len(r.clients) != 3 {
		t.Fatalf("without b: %v %v %d trackers", missing, err, len(r.trackers))
	}
	for _, tc := range []struct {
		name     string
		provider bool
		edit     func(st *State)
		want     string
	}{
		{"type", false, func(*State) {}, "quorum type"},
		{"twice", true, func(st *State) { st.Clients = append(st.Clients, st.Clients[0]) }, "twice"},
		{"model", true, func(st *State) { st.Clients[0].Model = 7 }, "model 7"},
		{"flags", true, func(st *State) { st.Clients[0].Flags = wire.TrackCurrent }, "tracks with flags"},
		{"trackers", true, func(st *State) { st.Trackers = st.Trackers[1:] }, "trackers listed"},
		{"tracker twice", true, func(st *State) { st.Trackers[1] = st.Trackers[0] }, "listed once"},
	} {
		st := s.Save(func(c any) uint64 { return ids[c.(string)] })
		tc.edit(&st)
		if _, _, err := Load(tc.provider, st, keys); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
