package svchost

import (
	"slices"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/ipcproto"
)

// TestBatchedDeliveriesAndSyncKind: a KindDeliverBatch reaches the service
// as single Deliver calls in order, interleaved correctly with plain
// deliveries; a sync round's kind comes from the bus (ipcproto contract).
func TestBatchedDeliveriesAndSyncKind(t *testing.T) {
	svc := &testService{}
	svc.onSyncProcess = func(_ Host, r SyncRound) bool {
		svc.record("kind %s members %v trans %v", r.Kind, r.Members, r.Trans)
		return true
	}
	r := startRig(t, svc, Options{})
	p := r.accept(1)
	waitFor(t, "attached", func() bool { return svc.has("attached 1") == 1 })
	p.send(&ipcproto.Msg{Kind: ipcproto.KindDeliver, From: 1, Payload: []byte{1}})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindDeliverBatch, Batch: ipcproto.Batch{
		{From: 2, Payload: []byte{2}}, {From: 3, Payload: []byte{3}}, {From: 2, Payload: []byte{4}}}})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindDeliver, From: 1, Payload: []byte{5}})
	waitFor(t, "deliveries", func() bool { return svc.has("deliver ") == 5 })
	svc.mu.Lock()
	var got []string
	for _, e := range svc.events {
		if strings.HasPrefix(e, "deliver ") {
			got = append(got, e)
		}
	}
	svc.mu.Unlock()
	want := []string{"deliver 1 01", "deliver 2 02", "deliver 3 03", "deliver 2 04", "deliver 1 05"}
	if !slices.Equal(got, want) {
		t.Fatalf("deliveries %q, want %q", got, want)
	}

	ring := &ipcproto.Ring{Rep: 1, Seq: 4}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncInit, ID: 5, SyncKind: ipcproto.SyncService, Ring: ring, Trans: []uint32{1}, Members: []uint32{1, 2}})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncProcess, ID: 5, SyncKind: ipcproto.SyncService, Ring: ring})
	if m := p.recvKind(ipcproto.KindSyncDone); m.ID != 5 {
		t.Fatalf("sync done for round %d, want 5", m.ID)
	}
	if svc.has("kind service members [1 2] trans [1]") != 1 {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		t.Fatalf("service round not seen as one: %q", svc.events)
	}
}
