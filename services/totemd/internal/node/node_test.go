package node

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/transport"
)

func freePort(t *testing.T) uint16 {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

// testSRP is a fast-timer configuration for loopback rings.
func testSRP(self srp.NodeID, nodes []srp.NodeID) srp.Config {
	return srp.Config{
		Self: self, Nodes: nodes,
		Token: 300 * time.Millisecond, TokenRetransmit: 70 * time.Millisecond, Hold: 50 * time.Millisecond,
		Join: 30 * time.Millisecond, Consensus: 360 * time.Millisecond, Merge: 100 * time.Millisecond,
		Downcheck: time.Second, FailRecvConst: 2500, SeqnoUnchangedConst: 30, MissCountConst: 5,
		WindowSize: 50, MaxMessages: 17, MaxNetworkDelay: 50 * time.Millisecond, NetMTU: 1500,
	}
}

type testCluster struct {
	nodes  []*Node
	cancel []context.CancelFunc
	done   []chan error
	cfgs   []Config
}

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	port := freePort(t)
	ids := make([]srp.NodeID, n)
	peers := make([]transport.Peer, n)
	for i := range ids {
		ids[i] = srp.NodeID(i + 1)
		peers[i] = transport.Peer{ID: uint32(i + 1), Addr: netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})}
	}
	tc := &testCluster{}
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		cfg := Config{
			SRP:       testSRP(ids[i], ids),
			Transport: transport.Config{Mode: transport.UDPU, Local: peers[i].Addr, Port: port, Peers: peers, BlockUnlisted: true},
			StateDir:  dir,
			BusPath:   filepath.Join(dir, "bus.sock"),
		}
		tc.cfgs = append(tc.cfgs, cfg)
		tc.nodes = append(tc.nodes, nil)
		tc.cancel = append(tc.cancel, nil)
		tc.done = append(tc.done, nil)
		tc.start(t, i)
	}
	t.Cleanup(func() {
		for i := range tc.nodes {
			tc.stop(i)
		}
	})
	return tc
}

func (tc *testCluster) start(t *testing.T, i int) {
	t.Helper()
	nd, err := New(tc.cfgs[i])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nd.Run(ctx) }()
	tc.nodes[i], tc.cancel[i], tc.done[i] = nd, cancel, done
}

func (tc *testCluster) stop(i int) {
	if tc.cancel[i] == nil {
		return
	}
	tc.cancel[i]()
	<-tc.done[i]
	tc.cancel[i] = nil
}

// waitMembers waits until each given node has installed and synced a ring
// with exactly want as members.
func (tc *testCluster) waitMembers(t *testing.T, want []srp.NodeID, idx ...int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		ok := true
		for _, i := range idx {
			m := tc.nodes[i].Membership()
			if !m.Synced || !slices.Equal(m.Members, want) {
				ok = false
			}
		}
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, i := range idx {
		t.Logf("node %d: %+v", i+1, tc.nodes[i].Membership())
	}
	t.Fatalf("nodes %v did not converge on %v", idx, want)
}

func TestThreeNodesFormRingAndSurviveAStop(t *testing.T) {
	tc := startCluster(t, 3)
	tc.waitMembers(t, []srp.NodeID{1, 2, 3}, 0, 1, 2)
	tc.stop(2) // graceful: leave message
	tc.waitMembers(t, []srp.NodeID{1, 2}, 0, 1)
	tc.start(t, 2)
	tc.waitMembers(t, []srp.NodeID{1, 2, 3}, 0, 1, 2)
}

// attachPload attaches a test service (pload's id) on the first n nodes.
// Every client is attached before any sends, or a node whose client
// attaches late rightly never sees the first messages.
func attachPload(t *testing.T, tc *testCluster, n int) []*ipcproto.Conn {
	t.Helper()
	conns := make([]*ipcproto.Conn, n)
	for i := range conns {
		c, err := ipcproto.Dial(context.Background(), tc.cfgs[i].BusPath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: 4, Name: "pload"}); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for i, c := range conns {
		if m, err := c.Recv(); err != nil || m.Kind != ipcproto.KindAttached {
			t.Fatalf("node %d: attach answer %+v %v", i+1, m, err)
		}
	}
	return conns
}

// syncDone answers a sync_process of a daemon without sync messages; until
// its round is activated totemd refuses its ordinary multicasts.
func syncDone(c *ipcproto.Conn, m *ipcproto.Msg) {
	_ = c.Send(&ipcproto.Msg{Kind: ipcproto.KindSyncDone, ID: m.ID, Ring: m.Ring})
}

// TestServiceMessagesFlowInOneOrder attaches a service daemon on every node
// over the bus and checks that messages multicast by all of them arrive
// everywhere in the same order.
func TestServiceMessagesFlowInOneOrder(t *testing.T) {
	tc := startCluster(t, 3)
	tc.waitMembers(t, []srp.NodeID{1, 2, 3}, 0, 1, 2)
	conns := attachPload(t, tc, 3)
	const perNode = 200
	got := make([][]string, 3)
	errs := make(chan error, 3)
	for i, c := range conns {
		go func() {
			sent, acked := 0, 0
			var order []string
			for len(order) < 3*perNode {
				if sent == acked && sent < perNode {
					body := pg.AppendExecHeader(nil, pg.ExecHeader{Service: 4, Fn: 1, Size: 16 + 8})
					body = append(body, []byte{byte('a' + i), byte(sent >> 8), byte(sent), 0, 0, 0, 0, 0}...)
					if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: uint64(sent + 1), Payload: body}); err != nil {
						errs <- err
						return
					}
					sent++
				}
				m, err := c.Recv()
				if err != nil {
					errs <- err
					return
				}
				switch m.Kind {
				case ipcproto.KindMcastAck:
					if m.Status == cs.OK {
						acked++
					} else {
						sent-- // refused: send the same message again
					}
				case ipcproto.KindDeliver, ipcproto.KindDeliverBatch:
					for _, d := range m.Deliveries() {
						order = append(order, string(d.Payload[16:19]))
					}
				case ipcproto.KindSyncProcess:
					syncDone(c, m)
				}
			}
			got[i] = order
			errs <- nil
		}()
	}
	for range conns {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("messages did not all arrive")
		}
	}
	for i := 1; i < 3; i++ {
		if !slices.Equal(got[0], got[i]) {
			t.Fatalf("node %d delivered a different order than node 1", i+1)
		}
	}
}

// TestPipelinedMcastKeepsSenderOrder: a service with many multicasts in
// flight fills the ring queue and totemd's waiting list; totemd refuses
// the first message that does not fit and everything after it until that
// one comes again, so a client that resends from its first refused message
// on gets its messages delivered once each, in the order it made them.
func TestPipelinedMcastKeepsSenderOrder(t *testing.T) {
	// far more than the ring queue and totemd's waiting list hold
	if refusals := pipelined(t, 3000, 16<<10, 3000); refusals == 0 {
		t.Fatalf("the ring queue never refused a message: the test did not exercise the gate")
	}
}

// TestWindowOfBigMcastsWaitsInsteadOfRefused: 64 multicasts of 64 KiB in
// flight overrun the ring queue, but fit totemd's waiting list: they are
// acknowledged late, never refused (no TryAgain rewinds), and delivered in
// order.
func TestWindowOfBigMcastsWaitsInsteadOfRefused(t *testing.T) {
	if refusals := pipelined(t, 300, 64<<10, 64); refusals != 0 {
		t.Fatalf("%d refusals with a window that fits the waiting list", refusals)
	}
}

// pipelined sends count multicasts of size bytes from node 1 with window
// in flight, checks node 2 delivers them once each in order, and returns
// how often the sender had to rewind.
func pipelined(t *testing.T, count, size, window int) (refusals int) {
	tc := startCluster(t, 2)
	tc.waitMembers(t, []srp.NodeID{1, 2}, 0, 1)
	conns := attachPload(t, tc, 2)
	waitActive(t, conns, []uint32{1, 2}) // ordinary multicasts wait for the attach rounds
	body := func(seq int) []byte {
		b := pg.AppendExecHeader(nil, pg.ExecHeader{Service: 4, Fn: 1, Size: uint32(16 + size)})
		b = binary.BigEndian.AppendUint32(b, uint32(seq))
		return append(b, make([]byte, size-4)...)
	}
	// Receiver: node 2 records node 1's sequence numbers in delivery order.
	// It starts late, so deliveries pile up in totemd's queue for it and
	// go out batched (KindDeliverBatch).
	got := make(chan []int, 1)
	batches := 0
	go func() {
		time.Sleep(time.Second)
		var seqs []int
		for len(seqs) < count {
			m, err := conns[1].Recv()
			if err != nil {
				break
			}
			if m.Kind == ipcproto.KindDeliverBatch {
				batches++
			}
			if m.Kind == ipcproto.KindSyncProcess {
				syncDone(conns[1], m)
			}
			for _, d := range m.Deliveries() {
				if len(d.Payload) >= 20 {
					seqs = append(seqs, int(binary.BigEndian.Uint32(d.Payload[16:])))
				}
			}
		}
		got <- seqs
	}()
	// Sender: up to window in flight; after a TryAgain, wait for every
	// outstanding ack, then resend from the first unaccepted message.
	c := conns[0]
	win := ipcproto.Window{Size: window, Total: count}
	deadline := time.Now().Add(60 * time.Second)
	for win.Accepted() < count && time.Now().Before(deadline) {
		for seq, ok := win.Next(); ok; seq, ok = win.Next() {
			if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: win.ID(seq), Payload: body(seq)}); err != nil {
				t.Fatal(err)
			}
		}
		m, err := c.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == ipcproto.KindSyncProcess {
			syncDone(c, m)
		}
		if m.Kind != ipcproto.KindMcastAck {
			continue
		}
		rewound, err := win.Ack(m)
		if err != nil {
			t.Fatal(err) // e.g. a later message accepted while a refused one was not
		}
		if rewound {
			refusals++
			time.Sleep(5 * time.Millisecond) // let the ring drain a little
		}
	}
	if win.Accepted() < count {
		t.Fatalf("only %d of %d messages accepted", win.Accepted(), count)
	}
	select {
	case seqs := <-got:
		for i, s := range seqs {
			if s != i {
				t.Fatalf("node 2 delivered message %d at position %d (%d refusals): sender order broken", s, i, refusals)
			}
		}
		if len(seqs) != count {
			t.Fatalf("node 2 delivered %d of %d messages", len(seqs), count)
		}
		if batches == 0 {
			t.Fatalf("a receiver that fell behind got no batched deliveries")
		}
		t.Logf("%d messages in order after %d refusals, %d batches", count, refusals, batches)
	case <-time.After(60 * time.Second):
		t.Fatal("node 2 did not deliver every message")
	}
	return refusals
}
