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
