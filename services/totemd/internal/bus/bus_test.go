package bus

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/ipcproto"
)

func listen(t *testing.T) (*Server, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	path := filepath.Join(t.TempDir(), "bus.sock")
	s, err := Listen(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func dial(t *testing.T, path string) *ipcproto.Conn {
	t.Helper()
	c, err := ipcproto.Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func next(t *testing.T, s *Server) Event {
	t.Helper()
	select {
	case ev := <-s.Events():
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no bus event")
	}
	return Event{}
}

func TestAttachMcastDetach(t *testing.T) {
	s, path := listen(t)
	c := dial(t, path)
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: 2, Name: "cpg"}); err != nil {
		t.Fatal(err)
	}
	ev := next(t, s)
	if ev.Msg.Kind != ipcproto.KindAttach || ev.Svc.ID != 2 || s.Attached(2) != ev.Svc {
		t.Fatalf("attach event %+v", ev)
	}
	svc := ev.Svc
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 1, Payload: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, s); ev.Msg.Kind != ipcproto.KindMcast || string(ev.Msg.Payload) != "hi" {
		t.Fatalf("mcast event %+v", ev.Msg)
	}
	if err := svc.Send(&ipcproto.Msg{Kind: ipcproto.KindDeliver, From: 1, Payload: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Recv(); err != nil || m.Kind != ipcproto.KindDeliver {
		t.Fatalf("deliver: %+v %v", m, err)
	}
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindDetach}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, s); ev.Msg != nil || ev.Err != nil {
		t.Fatalf("clean detach event %+v", ev)
	}
	if s.Attached(2) != nil {
		t.Fatal("service still attached after detach")
	}
}

func TestSecondDaemonForAServiceIsRefused(t *testing.T) {
	s, path := listen(t)
	a := dial(t, path)
	a.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: 0, Name: "cmap"})
	next(t, s)
	b := dial(t, path)
	b.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: 0, Name: "cmap"})
	m, err := b.Recv()
	if err != nil || m.Kind != ipcproto.KindError || !strings.Contains(m.Text, "already attached") {
		t.Fatalf("second attach: %+v %v", m, err)
	}
}

func TestFirstFrameMustBeAttach(t *testing.T) {
	_, path := listen(t)
	c := dial(t, path)
	c.Send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 1})
	m, err := c.Recv()
	if err != nil || m.Kind != ipcproto.KindError || !strings.Contains(m.Text, "must be attach") {
		t.Fatalf("got %+v %v", m, err)
	}
}

func TestKilledServiceIsReportedGone(t *testing.T) {
	s, path := listen(t)
	c := dial(t, path)
	c.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: 3, Name: "quorum"})
	svc := next(t, s).Svc
	c.Close()
	if ev := next(t, s); ev.Msg != nil || ev.Svc != svc {
		t.Fatalf("disconnect event %+v", ev)
	}
	if err := svc.Send(&ipcproto.Msg{Kind: ipcproto.KindSyncAbort}); err == nil {
		t.Fatal("send to a gone service succeeded")
	}
}

func deliver(from uint32, p string) *ipcproto.Msg {
	return &ipcproto.Msg{Kind: ipcproto.KindDeliver, From: from, Payload: []byte(p)}
}

// TestCollectMergesConsecutiveDeliveries: the writer takes everything
// queued, merges consecutive deliveries into KindDeliverBatch frames, in
// order, and keeps every other message in its place between them.
func TestCollectMergesConsecutiveDeliveries(t *testing.T) {
	conf := &ipcproto.Msg{Kind: ipcproto.KindConfChg, Conf: &ipcproto.Conf{}}
	s := &Service{out: make(chan *ipcproto.Msg, 8)}
	for _, m := range []*ipcproto.Msg{deliver(2, "b"), deliver(3, "c"), conf, deliver(4, "d")} {
		s.out <- m
	}
	out := s.collect(nil, deliver(1, "a"))
	if len(out) != 3 || out[0].Kind != ipcproto.KindDeliverBatch || out[1] != conf || out[2].Kind != ipcproto.KindDeliver {
		t.Fatalf("collected %+v", out)
	}
	want := []ipcproto.Delivery{{From: 1, Payload: []byte("a")}, {From: 2, Payload: []byte("b")}, {From: 3, Payload: []byte("c")}}
	for i, d := range out[0].Deliveries() {
		if d.From != want[i].From || string(d.Payload) != string(want[i].Payload) {
			t.Fatalf("delivery %d: %+v, want %+v", i, d, want[i])
		}
	}
	if d := out[2].Deliveries(); len(d) != 1 || d[0].From != 4 {
		t.Fatalf("last delivery %+v", d)
	}
	// Alone in the queue: sent as it is.
	if out := s.collect(nil, deliver(5, "e")); len(out) != 1 || out[0].Kind != ipcproto.KindDeliver {
		t.Fatalf("single delivery became %+v", out)
	}
	// The byte bound closes a batch; the delivery that did not fit starts
	// the next frame.
	big := deliver(7, strings.Repeat("x", MaxBatchBytes))
	s.out <- deliver(6, "f")
	s.out <- big
	out = s.collect(nil, deliver(5, "e"))
	if len(out) != 2 || out[0].Kind != ipcproto.KindDeliverBatch || len(out[0].Batch) != 2 ||
		out[1].Kind != ipcproto.KindDeliver || out[1].From != 7 {
		t.Fatalf("byte bound: %+v", out)
	}
}

// TestDeliveriesArriveInOrder sends a burst of deliveries and other
// messages to a real daemon connection: whatever was batched, the daemon
// sees every delivery once, in order, and the other messages in place.
func TestDeliveriesArriveInOrder(t *testing.T) {
	s, path := listen(t)
	c := dial(t, path)
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: 2, Name: "cpg"}); err != nil {
		t.Fatal(err)
	}
	svc := next(t, s).Svc
	const n = 5000
	for i := 0; i < n; i++ {
		m := deliver(uint32(i), "m")
		if i%1000 == 999 {
			m = &ipcproto.Msg{Kind: ipcproto.KindConfChg, Conf: &ipcproto.Conf{Members: []uint32{uint32(i)}}}
		}
		if err := svc.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	got, frames := 0, 0
	for got < n {
		m, err := c.Recv()
		if err != nil {
			t.Fatal(err)
		}
		frames++
		if m.Kind == ipcproto.KindConfChg {
			if m.Conf.Members[0] != uint32(got) {
				t.Fatalf("confchg %d arrived at position %d", m.Conf.Members[0], got)
			}
			got++
			continue
		}
		for _, d := range m.Deliveries() {
			if d.From != uint32(got) {
				t.Fatalf("delivery %d arrived at position %d", d.From, got)
			}
			got++
		}
	}
	t.Logf("%d messages in %d frames", n, frames)
}

// TestHostedServiceRefused: a daemon attaching (or resuming) as a service
// totemd serves itself gets an error naming it and its connection is
// closed; the node loop never hears of it.
func TestHostedServiceRefused(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	path := filepath.Join(t.TempDir(), "bus.sock")
	s, err := Listen(ctx, path, nil, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, kind := range []ipcproto.Kind{ipcproto.KindAttach, ipcproto.KindResume} {
		c := dial(t, path)
		if err := c.Send(&ipcproto.Msg{Kind: kind, Service: 4, Name: "pload"}); err != nil {
			t.Fatal(err)
		}
		m, err := c.Recv()
		if err != nil || m.Kind != ipcproto.KindError || !strings.Contains(m.Text, "served by totemd itself") {
			t.Fatalf("%s as pload: %+v, %v", kind, m, err)
		}
		if m, err := c.Recv(); err == nil {
			t.Fatalf("%s as pload: connection still open, got %+v", kind, m)
		}
	}
	select {
	case ev := <-s.Events():
		t.Fatalf("the refused daemon reached the node loop: %+v", ev)
	default:
	}
	if s.Attached(4) != nil {
		t.Fatal("pload attached")
	}
}
