package daemon

import (
	"bytes"
	"context"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
)

// TestBusPrefixTracking: cmapd says hello to every other service on
// attach; a service tracking a prefix over the bus gets its keys, then one
// Changed notification per committed change below it (a client's write, a
// delete), none for other keys; once totemd answers that the service is
// gone, cmapd stops notifying it.
func TestBusPrefixTracking(t *testing.T) {
	h := startDaemon(t, "shm")
	p := h.accept(t)
	p.send(&ipcproto.Msg{Kind: ipcproto.KindAttached, NodeID: 1, Ring: &ipcproto.Ring{Rep: 1, Seq: 4}, RingMembers: []uint32{1}, Members: []uint32{1}})
	hellos := map[uint16]bool{}
	for len(hellos) < 7 {
		m := p.recvAny()
		if m.Kind != ipcproto.KindRequest || !bytes.Equal(m.Payload, cmapreq.Hello()) {
			t.Fatalf("got %+v, want the hellos", m)
		}
		hellos[m.Service] = true
	}
	if hellos[0] {
		t.Fatal("cmapd said hello to itself")
	}
	c := dial(t)
	ctx := context.Background()
	if err := c.Set(ctx, "uidgid.gid.99", value.U8(1)); err != nil {
		t.Fatal(err)
	}

	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 1, Service: 3, Payload: cmapreq.Track("uidgid.")})
	r := p.recv()
	st, es, err := cmapreq.DecodeTrackReply(r.Payload)
	if r.Kind != ipcproto.KindResponse || r.ID != 1 || r.Service != 3 || err != nil || st != cs.OK {
		t.Fatalf("track response %+v: %v %v", r, st, err)
	}
	if len(es) != 1 || es[0].Key != "uidgid.gid.99" || !es[0].Value.Equal(value.U8(1)) {
		t.Fatalf("snapshot %+v", es)
	}
	// Tracking again is harmless: still one notification per change.
	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 2, Service: 3, Payload: cmapreq.Track("uidgid.")})
	p.recv()

	if err := c.Set(ctx, "quorum.expected_votes", value.U32(3)); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "uidgid.uid.65534", value.U8(1)); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "uidgid.gid.99"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []cmapreq.Entry{{Key: "uidgid.uid.65534", Value: value.U8(1)}, {Key: "uidgid.gid.99", Deleted: true}} {
		m := p.recv()
		n, err := cmapreq.DecodeNotification(m.Payload)
		if m.Kind != ipcproto.KindRequest || m.Service != 3 || err != nil || len(n.Changes) != 1 {
			t.Fatalf("notification %+v: %+v %v", m, n, err)
		}
		if got := n.Changes[0]; got.Key != want.Key || got.Deleted != want.Deleted || !got.Value.Equal(want.Value) {
			t.Fatalf("change %+v, want %+v", got, want)
		}
		status := cs.OK
		if want.Deleted {
			status = cs.ErrNotExist // totemd: service 3 is not attached any more
		}
		p.send(&ipcproto.Msg{Kind: ipcproto.KindResponse, ID: m.ID, Service: 3, Status: status})
	}
	// Bus messages are handled in order: once this is answered, the
	// refusal above was seen.
	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 3, Service: 1, Payload: cmapreq.Track("nothing.")})
	if m := p.recv(); m.Kind != ipcproto.KindResponse || m.ID != 3 {
		t.Fatalf("got %+v, want the answer to request 3", m)
	}
	if err := c.Set(ctx, "uidgid.gid.100", value.U8(1)); err != nil {
		t.Fatal(err)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 4, Service: 1, Payload: cmapreq.Track("nothing.")})
	if m := p.recv(); m.Kind != ipcproto.KindResponse || m.ID != 4 {
		t.Fatalf("got %+v after the tracker was dropped", m)
	}
}
