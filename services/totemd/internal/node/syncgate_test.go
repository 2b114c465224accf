package node

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// waitActive answers the sync rounds of raw bus daemons until each was
// activated with members as its service membership.
func waitActive(t *testing.T, conns []*ipcproto.Conn, members []uint32) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, len(conns))
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := c.Recv()
				if err != nil {
					errs <- err.Error()
					return
				}
				switch {
				case m.Kind == ipcproto.KindSyncProcess:
					syncDone(c, m)
				case m.Kind == ipcproto.KindSyncActivate && slices.Equal(m.Members, members):
					return
				case m.Kind == ipcproto.KindMcastAck || m.Kind == ipcproto.KindDeliver || m.Kind == ipcproto.KindDeliverBatch:
					errs <- "daemon " + string(rune('1'+i)) + ": " + m.Kind.String() + " before its activation"
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("the daemons were not activated with members %v", members)
	}
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// gateBody is a multicast of service 4 (pload) carrying tag.
func gateBody(tag uint32) []byte {
	b := pg.AppendExecHeader(nil, pg.ExecHeader{Service: 4, Fn: 1, Size: 16 + 4})
	return binary.BigEndian.AppendUint32(b, tag)
}

// TestOrdinaryMcastRefusedDuringOwnRound: while a daemon's sync round runs
// on its node (here the service round of its own attach, held in
// sync_process), totemd refuses its ordinary multicasts with TryAgain and
// every later one until the refused one comes again, and accepts its sync
// messages (Sync, their own stream and ids). After the activation the
// ordinary ones are accepted, resent from the refused one on, and every
// node delivers the sync message first, then the ordinary ones in order.
func TestOrdinaryMcastRefusedDuringOwnRound(t *testing.T) {
	tc := startCluster(t, 2)
	tc.waitMembers(t, []srp.NodeID{1, 2}, 0, 1)
	obs, err := ipcproto.Dial(context.Background(), tc.cfgs[1].BusPath) // node 2's daemon observes the deliveries
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obs.Close() })
	if err := obs.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: 4, Name: "pload"}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, []*ipcproto.Conn{obs}, []uint32{2})

	// Node 2's daemon takes part in node 1's rounds and records the tags
	// it is delivered.
	delivered := make(chan []uint32, 1)
	go func() {
		var tags []uint32
		for len(tags) < 3 {
			m, err := obs.Recv()
			if err != nil {
				return
			}
			if m.Kind == ipcproto.KindSyncProcess {
				syncDone(obs, m)
			}
			for _, d := range m.Deliveries() {
				tags = append(tags, binary.BigEndian.Uint32(d.Payload[16:]))
			}
		}
		delivered <- tags
	}()

	c, err := ipcproto.Dial(context.Background(), tc.cfgs[0].BusPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	send := func(m *ipcproto.Msg) {
		t.Helper()
		if err := c.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	// next reads node 1's daemon until a message of kind k, answering
	// nothing. The round's messages may come before or after the acks of
	// the multicasts sent ahead of it, so a sync message read while
	// waiting for an ack is kept for a later next; an ack read while
	// waiting for anything else fails the test.
	var held []*ipcproto.Msg
	next := func(k ipcproto.Kind) *ipcproto.Msg {
		t.Helper()
		for i, m := range held {
			if m.Kind == k {
				held = slices.Delete(held, i, i+1)
				return m
			}
		}
		for {
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			m, err := c.Recv()
			if err != nil {
				t.Fatalf("waiting for %s: %v", k, err)
			}
			switch {
			case m.Kind == k:
				return m
			case m.Kind == ipcproto.KindMcastAck:
				t.Fatalf("waiting for %s: got %s %+v", k, m.Kind, m)
			case k == ipcproto.KindMcastAck:
				held = append(held, m)
			}
		}
	}
	ack := func(id uint64, st cs.Error, sync bool) {
		t.Helper()
		m := next(ipcproto.KindMcastAck)
		if m.ID != id || m.Status != st || m.Sync != sync {
			t.Fatalf("ack %d %v sync=%v, want %d %v sync=%v", m.ID, m.Status, m.Sync, id, st, sync)
		}
	}
	send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: 4, Name: "pload"})
	next(ipcproto.KindAttached)
	// Before and during the round: ordinary 1 and 2 refused, 2 because 1 was.
	send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 1, Payload: gateBody(101)})
	send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 2, Payload: gateBody(102)})
	ack(1, cs.ErrTryAgain, false)
	ack(2, cs.ErrTryAgain, false)
	proc := next(ipcproto.KindSyncProcess)
	send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 1, Payload: gateBody(101)}) // the refused one again: still in the round
	ack(1, cs.ErrTryAgain, false)
	send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 1, Sync: true, Payload: gateBody(1)})
	ack(1, cs.OK, true)
	send(&ipcproto.Msg{Kind: ipcproto.KindSyncDone, ID: proc.ID, Ring: proc.Ring})
	if a := next(ipcproto.KindSyncActivate); !slices.Equal(a.Members, []uint32{1, 2}) {
		t.Fatalf("activated with members %v", a.Members)
	}
	send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 1, Payload: gateBody(101)})
	send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 2, Payload: gateBody(102)})
	ack(1, cs.OK, false)
	ack(2, cs.OK, false)
	select {
	case got := <-delivered:
		if want := []uint32{1, 101, 102}; !slices.Equal(got, want) {
			t.Fatalf("node 2 delivered %v, want %v (the sync message, then the ordinary ones in order)", got, want)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("node 2 did not deliver the three messages")
	}
}
