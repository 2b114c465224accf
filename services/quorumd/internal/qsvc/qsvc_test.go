package qsvc

import (
	"reflect"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// decoded renders outputs as decoded values for comparison.
type got struct {
	client any
	event  bool
	v      any
}

func decode(t *testing.T, out []Out) []got {
	t.Helper()
	var g []got
	for _, o := range out {
		if o.Event {
			ev, err := wire.DecodeQEvent(o.Msg)
			if err != nil {
				t.Fatalf("event: %v", err)
			}
			g = append(g, got{o.Client, true, ev})
			continue
		}
		h := int32(o.Msg[0])
		switch h {
		case wire.QResGetQuorate, wire.QResGetType, wire.QResModelGetType:
			v, st, err := wire.DecodeQValue(o.Msg, h)
			if err != nil {
				t.Fatal(err)
			}
			g = append(g, got{o.Client, false, [2]any{v, st}})
		default:
			st, err := wire.DecodeQStatus(o.Msg, h)
			if err != nil {
				t.Fatal(err)
			}
			g = append(g, got{o.Client, false, [2]any{h, st}})
		}
	}
	return g
}

func req(t *testing.T, s *Service, c any, r wire.QRequest) []got {
	t.Helper()
	out, err := s.Request(c, r.Encode())
	if err != nil {
		t.Fatalf("%T: %v", r, err)
	}
	return decode(t, out)
}

func TestRequests(t *testing.T) {
	s := New(true)
	s.Connect("a")
	if g := req(t, s, "a", wire.QGetType{}); !reflect.DeepEqual(g, []got{{"a", false, [2]any{uint32(1), cs.OK}}}) {
		t.Errorf("gettype %v", g)
	}
	// Inquorate until the provider reports.
	if g := req(t, s, "a", wire.QGetQuorate{}); !reflect.DeepEqual(g, []got{{"a", false, [2]any{uint32(0), cs.OK}}}) {
		t.Errorf("getquorate %v", g)
	}
	ring := wire.RingID{NodeID: 1, Seq: 8}
	s.SyncInit([]uint32{1}, []uint32{1, 2}, ring)
	s.SyncActivate()
	s.SetQuorum([]uint32{1, 2}, true, ring)
	if g := req(t, s, "a", wire.QGetQuorate{}); g[0].v != [2]any{uint32(1), cs.OK} {
		t.Errorf("getquorate after report %v", g)
	}

	v0 := wire.QNotification{Quorate: 1, RingSeq: 8, View: []uint32{1, 2}}
	// CURRENT: the state, OK, not registered.
	want := []got{{"a", true, v0}, {"a", false, [2]any{wire.QResTrackStart, cs.OK}}}
	if g := req(t, s, "a", wire.QTrackStart{Flags: wire.TrackCurrent}); !reflect.DeepEqual(g, want) {
		t.Errorf("trackstart current %v", g)
	}
	// CHANGES registers; a second one sends the state and says EXIST.
	req(t, s, "a", wire.QTrackStart{Flags: wire.TrackChanges})
	want[1].v = [2]any{wire.QResTrackStart, cs.ErrExist}
	if g := req(t, s, "a", wire.QTrackStart{Flags: wire.TrackChanges}); !reflect.DeepEqual(g, want) {
		t.Errorf("second trackstart %v", g)
	}
	// CHANGES_ONLY would register without the state.
	s.Connect("b")
	if g := req(t, s, "b", wire.QTrackStart{Flags: wire.TrackChangesOnly}); len(g) != 1 {
		t.Errorf("changes only %v", g)
	}
	// V1 client.
	s.Connect("c")
	if g := req(t, s, "c", wire.QModelGetType{Model: 1}); g[0].v != [2]any{uint32(1), cs.OK} {
		t.Errorf("model_gettype %v", g)
	}
	g := req(t, s, "c", wire.QTrackStart{Flags: wire.TrackCurrent | wire.TrackChanges})
	wantV1 := []got{
		{"c", true, wire.QV1Nodelist{Ring: ring, Members: []uint32{1, 2}}},
		{"c", true, wire.QV1Quorum{Quorate: 1, Ring: ring, View: []uint32{1, 2}}},
		{"c", false, [2]any{wire.QResTrackStart, cs.OK}},
	}
	if !reflect.DeepEqual(g, wantV1) {
		t.Errorf("V1 trackstart\n%#v\nwant\n%#v", g, wantV1)
	}
	// A bad model keeps the old one and answers INVALID_PARAM.
	out, err := s.Request("c", wire.QModelGetType{Model: 2}.Encode())
	if err == nil || decode(t, out)[0].v != [2]any{uint32(1), cs.ErrInvalidParam} {
		t.Errorf("model 2: %v %v", decode(t, out), err)
	}

	// A quorum change goes to trackers newest first, each in its model.
	out, changed := s.SetQuorum([]uint32{1}, false, wire.RingID{NodeID: 1, Seq: 12})
	if !changed {
		t.Error("quorate flip not reported")
	}
	g = decode(t, out)
	if len(g) != 3 || g[0].client != "c" || g[1].client != "b" || g[2].client != "a" {
		t.Fatalf("notification order %v", g)
	}
	if _, ok := g[0].v.(wire.QV1Quorum); !ok {
		t.Errorf("V1 client got %T", g[0].v)
	}
	if n := g[2].v.(wire.QNotification); n.Quorate != 0 || n.RingSeq != 12 || !reflect.DeepEqual(n.View, []uint32{1}) {
		t.Errorf("V0 notification %v", n)
	}

	// TRACKSTOP: always OK; a stopped or disconnected client gets nothing.
	for i := 0; i < 2; i++ {
		if g := req(t, s, "a", wire.QTrackStop{}); g[0].v != [2]any{wire.QResTrackStop, cs.OK} {
			t.Errorf("trackstop %d: %v", i, g)
		}
	}
	s.Disconnect("b")
	out, _ = s.SetQuorum([]uint32{1}, false, wire.RingID{NodeID: 1, Seq: 12})
	if g := decode(t, out); len(g) != 1 || g[0].client != "c" {
		t.Errorf("after trackstop and disconnect %v", g)
	}
}

func TestBadRequest(t *testing.T) {
	s := New(false)
	s.Connect(1)
	for _, m := range [][]byte{wire.QGetQuorate{}.Encode()[:10], func() []byte { b := wire.QGetType{}.Encode(); b[0] = 9; return b }()} {
		out, err := s.Request(1, m)
		if err == nil || len(out) != 1 || string(out[0].Msg) != string(wire.GenericError(cs.ErrInvalidParam)) {
			t.Errorf("%x: %v %v", m, out, err)
		}
	}
	// No provider: QUORUM_FREE and quorate.
	if g := req(t, s, 1, wire.QGetQuorate{}); g[0].v != [2]any{uint32(1), cs.OK} {
		t.Errorf("free getquorate %v", g)
	}
}

func TestSyncJoinedLeft(t *testing.T) {
	s := New(true)
	s.Connect("v1")
	req(t, s, "v1", wire.QModelGetType{Model: 1})
	req(t, s, "v1", wire.QTrackStart{Flags: wire.TrackChangesOnly})
	steps := []struct {
		trans, members []uint32
		joined, left   []uint32
	}{
		{nil, []uint32{1}, []uint32{1}, nil},
		{[]uint32{1}, []uint32{1, 2, 3}, []uint32{2, 3}, nil},
		{[]uint32{1, 2}, []uint32{1, 2}, nil, []uint32{3}},
		// 2 was in trans but comes back in a new ring after leaving it:
		// both left and joined.
		{[]uint32{1}, []uint32{1, 2}, []uint32{2}, []uint32{2}},
		// in trans but not among the members (should not happen): left.
		{[]uint32{1, 2}, []uint32{1}, nil, []uint32{2}},
	}
	for i, st := range steps {
		ring := wire.RingID{NodeID: 1, Seq: uint64(4 * (i + 1))}
		j, l := s.SyncInit(st.trans, st.members, ring)
		if !reflect.DeepEqual(j, st.joined) && (len(j)+len(st.joined) > 0) || !reflect.DeepEqual(l, st.left) && (len(l)+len(st.left) > 0) {
			t.Errorf("step %d: joined %v left %v, want %v %v", i, j, l, st.joined, st.left)
		}
		g := decode(t, s.SyncActivate())
		if len(g) != 1 {
			t.Fatalf("step %d: %v", i, g)
		}
		n := g[0].v.(wire.QV1Nodelist)
		if n.Ring != ring || !reflect.DeepEqual(n.Members, st.members) || len(n.Joined) != len(st.joined) || len(n.Left) != len(st.left) {
			t.Errorf("step %d: notification %+v", i, n)
		}
	}
}
