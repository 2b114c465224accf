package dispatch

import (
	"bytes"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// TestSession runs what corosync-cmapctl -s/-g/-T does, as bytes: the
// requests libcmap sends, and the reply sizes strace showed on 3.1.7.
func TestSession(t *testing.T) {
	s := store.New()
	s.Set("totem.cluster_name", value.Str("svtest"))
	if err := s.Connect(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(2); err != nil {
		t.Fatal(err)
	}
	do := func(c store.ConnID, req cmapwire.Request) Result {
		t.Helper()
		r := Request(s, c, req.Encode())
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		return r
	}
	status := func(r Result, id int32) cs.Error {
		t.Helper()
		e, err := cmapwire.DecodeStatus(r.Reply, id)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// cmap_initialize_map(default), then -g totem.cluster_name.
	if e := status(do(1, cmapwire.SetCurrentMap{Map: 0}), cmapwire.ResSetCurrentMap); e != cs.OK {
		t.Fatal(e)
	}
	probe := do(1, cmapwire.Get{Key: "totem.cluster_name"})
	g, e, err := cmapwire.DecodeGet(probe.Reply, 0)
	if err != nil || e != cs.OK || len(probe.Reply) != 40 || g.Len != 7 || g.Type != value.String {
		t.Fatalf("probe: %d bytes %+v %v %v", len(probe.Reply), g, e, err)
	}
	read := do(1, cmapwire.Get{Key: "totem.cluster_name", BufLen: 7})
	if g, _, _ := cmapwire.DecodeGet(read.Reply, 7); len(read.Reply) != 47 || string(g.Value) != "svtest\x00" {
		t.Fatalf("read: %d bytes %q", len(read.Reply), g.Value)
	}
	// Connection 2 tracks "test." while 1 sets and deletes.
	tr, e, err := cmapwire.DecodeHandle(do(2, cmapwire.TrackAdd{Key: "test.", Flags: 15, Cookie: 0xc0ffee}).Reply, cmapwire.ResTrackAdd)
	if err != nil || e != cs.OK || tr == 0 {
		t.Fatal(e, err)
	}
	var sizes []int
	for _, req := range []cmapwire.Request{
		cmapwire.Set{Key: "test.key", Type: value.Uint32, Value: []byte{42, 0, 0, 0}},
		cmapwire.Set{Key: "test.key", Type: value.Uint32, Value: []byte{42, 0, 0, 0}},
		cmapwire.Set{Key: "test.key", Type: value.Uint32, Value: []byte{43, 0, 0, 0}},
		cmapwire.Set{Key: "test.str", Type: value.String, Value: []byte("hello")},
		cmapwire.Delete{Key: "test.key"},
	} {
		r := do(1, req)
		if e := status(r, req.ID()); e != cs.OK {
			t.Fatal(e)
		}
		for _, o := range r.Notify {
			if o.Conn != 2 {
				t.Fatalf("event for connection %d", o.Conn)
			}
			n, err := cmapwire.DecodeNotify(o.Msg)
			if err != nil || n.Cookie != 0xc0ffee {
				t.Fatal(n, err)
			}
			sizes = append(sizes, len(o.Msg))
		}
	}
	if want := []int{340, 344, 342, 340}; !equalInts(sizes, want) {
		t.Errorf("event sizes %v, want %v (strace of 3.1.7)", sizes, want)
	}
	// Switching map with a tracker open is refused; the delete reply
	// echoes the cookie.
	if e := status(do(2, cmapwire.SetCurrentMap{Map: 1}), cmapwire.ResSetCurrentMap); e != cs.ErrBusy {
		t.Errorf("switch = %v", e)
	}
	cookie, e, _ := cmapwire.DecodeHandle(do(2, cmapwire.TrackDelete{Track: tr}).Reply, cmapwire.ResTrackDelete)
	if e != cs.OK || cookie != 0xc0ffee {
		t.Errorf("track delete = %x %v", cookie, e)
	}
	// Iteration replies are 32 and 304 bytes; the end is CS_ERR_NO_SECTIONS.
	ih, _, _ := cmapwire.DecodeHandle(do(1, cmapwire.IterInit{Prefix: "test."}).Reply, cmapwire.ResIterInit)
	next := do(1, cmapwire.IterNext{Iter: ih})
	ent, e, err := cmapwire.DecodeIterNext(next.Reply)
	if err != nil || e != cs.OK || ent.Key != "test.str" || ent.Len != 6 || len(next.Reply) != 304 {
		t.Fatalf("iter: %+v %v %v", ent, e, err)
	}
	if _, e, _ := cmapwire.DecodeIterNext(do(1, cmapwire.IterNext{Iter: ih}).Reply); e != cs.ErrNoSections {
		t.Errorf("end = %v", e)
	}
	if e := status(do(1, cmapwire.IterFinalize{Iter: ih}), cmapwire.ResIterFinalize); e != cs.OK {
		t.Error(e)
	}
	// Stats map clear.
	if e := status(do(1, cmapwire.SetCurrentMap{Map: 1}), cmapwire.ResSetCurrentMap); e != cs.OK {
		t.Fatal(e)
	}
	if r := do(1, cmapwire.Set{Key: "stats.clear.all", Type: value.Uint32, Value: []byte{1, 0, 0, 0}}); r.Clear != store.ClearAll {
		t.Errorf("clear = %b", r.Clear)
	}
}

func TestBadRequests(t *testing.T) {
	s := store.New()
	s.Connect(1)
	for _, msg := range [][]byte{
		nil,
		(cmapwire.Get{Key: "a.b"}).Encode()[:100],
		{99, 0, 0, 0, 0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		r := Request(s, 1, msg)
		if r.Err == nil || !bytes.Equal(r.Reply, cmapwire.GenericError(cs.ErrInvalidParam)) {
			t.Errorf("%x: reply %x err %v", msg, r.Reply, r.Err)
		}
	}
}

func TestInternalEventsStaySeparate(t *testing.T) {
	s := store.New()
	s.Connect(1)
	s.Track("totem.config_version", 7, 0)
	r := Request(s, 1, cmapwire.Set{Key: "totem.config_version", Type: value.Uint64, Value: make([]byte, 8)}.Encode())
	if len(r.Internal) != 1 || len(r.Notify) != 0 {
		t.Errorf("internal %d, notify %d", len(r.Internal), len(r.Notify))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzRequest(f *testing.F) {
	f.Add((cmapwire.Set{Key: "a.b.c", Type: value.String, Value: []byte("x")}).Encode())
	f.Add((cmapwire.TrackAdd{Key: "", Flags: 8 | 4, Cookie: 1}).Encode())
	f.Add((cmapwire.IterNext{Iter: 1}).Encode())
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := store.New()
		s.Connect(1)
		r := Request(s, 1, msg)
		if _, err := cmapwire.DecodeRespHeader(r.Reply); err != nil {
			t.Fatalf("reply %x: %v", r.Reply, err)
		}
	})
}
