package stack

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// ring is a test harness: n stacks on a lossless network where every
// datagram takes hop, and one daemon session per node and service that
// answers sync_process at once (KindSyncDone) and records the rest.
type ring struct {
	t      testing.TB
	now    srp.Time
	stacks []*Stack
	net    []flight
	spare  []flight            // run's second buffer for net
	ses    map[[2]int]*session // (node index, service) → session
	// cut, when set, drops the datagrams from node index a to b: a
	// partition.
	cut func(a, b int) bool
	// onCfg, when set, takes node i's OutCfgAction outputs (cfg_test.go);
	// without it they fail the test.
	onCfg func(i int, a cfg.Action)
	// onPload, when set, takes node i's OutPload outputs (pload_test.go).
	onPload func(i int, po *PloadOut)
}

type flight struct {
	at    srp.Time
	to    int
	frame []byte
}

type session struct {
	node   int
	svc    uint16
	msgs   []*ipcproto.Msg // everything but acks and sync steps
	acks   []*ipcproto.Msg
	active bool
}

const hop = 100 * time.Microsecond

func testConfig(self srp.NodeID, nodes []srp.NodeID) srp.Config {
	return srp.Config{
		Self: self, Nodes: nodes, RingSeq: 1,
		Token: 300 * time.Millisecond, TokenRetransmit: 70 * time.Millisecond, Hold: 50 * time.Millisecond,
		Join: 30 * time.Millisecond, Consensus: 360 * time.Millisecond, Merge: 100 * time.Millisecond,
		Downcheck: time.Second, FailRecvConst: 2500, SeqnoUnchangedConst: 30, MissCountConst: 5,
		WindowSize: 50, MaxMessages: 17, MaxNetworkDelay: 50 * time.Millisecond, NetMTU: 1500,
	}
}

func newRing(t testing.TB, n int) *ring { return newRingWith(t, n, CfgConfig{}) }

// newRingWith is newRing with every stack's cfg service configured as cc.
func newRingWith(t testing.TB, n int, cc CfgConfig) *ring {
	return newRingOf(t, n, func(c *Config) { c.Cfg = cc })
}

// newRingOf is newRing with every stack's Config changed by set.
func newRingOf(t testing.TB, n int, set func(*Config)) *ring {
	r := &ring{t: t, ses: map[[2]int]*session{}}
	var ids []srp.NodeID
	for i := range n {
		ids = append(ids, srp.NodeID(i+1))
	}
	for _, id := range ids {
		c := Config{SRP: testConfig(id, ids)}
		set(&c)
		st, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		r.stacks = append(r.stacks, st)
	}
	for i := range r.stacks {
		r.step(i, Event{Kind: Start})
	}
	return r
}

// step hands node i one input and carries out its Ready.
func (r *ring) step(i int, ev Event) {
	st := r.stacks[i]
	if err := st.Step(r.now, ev); err != nil {
		r.t.Fatalf("n%d: %v", i+1, err)
	}
	for range Passes {
		rd := st.Ready()
		if rd.Empty() {
			return
		}
		for _, s := range rd.Sends {
			for to := range r.stacks {
				if r.cut != nil && r.cut(i, to) {
					continue
				}
				if s.To == 0 || int(s.To) == to+1 {
					// srp never reuses a frame it sent: no copy.
					r.net = append(r.net, flight{at: r.now + hop, to: to, frame: s.Frame})
				}
			}
		}
		for _, o := range rd.Outs {
			if o.Kind == OutCfgAction && r.onCfg != nil {
				r.onCfg(i, o.Cfg)
				continue
			}
			if o.Kind == OutPload && r.onPload != nil {
				r.onPload(i, o.Pload)
				continue
			}
			if o.Kind != OutService {
				r.t.Fatalf("n%d: output %d for the driver", i+1, o.Kind)
			}
			r.toDaemon(o.Session.(*session), o.Msg)
		}
		st.Advance(rd)
	}
	r.t.Fatalf("n%d: the stack did not settle", i+1)
}

// toDaemon is the daemon's side: sync_process is answered at once.
func (r *ring) toDaemon(s *session, m *ipcproto.Msg) {
	switch m.Kind {
	case ipcproto.KindMcastAck:
		s.acks = append(s.acks, m)
	case ipcproto.KindSyncProcess:
		r.step(s.node, BusEvent(s, s.svc, "test", &ipcproto.Msg{Kind: ipcproto.KindSyncDone, ID: m.ID}))
	case ipcproto.KindSyncActivate:
		s.active = true
	case ipcproto.KindSyncInit, ipcproto.KindSyncAbort:
	default:
		s.msgs = append(s.msgs, m)
	}
}

// run advances time to until, delivering datagrams and ticking timers.
func (r *ring) run(until srp.Time) {
	for r.now < until {
		next := until
		for _, f := range r.net {
			next = min(next, f.at)
		}
		for _, st := range r.stacks {
			if d, ok := st.NextDeadline(); ok {
				next = min(next, max(d, r.now))
			}
		}
		r.now = next
		due := r.net
		r.net = r.spare[:0]
		for _, f := range due {
			if f.at > r.now {
				r.net = append(r.net, f)
				continue
			}
			r.step(f.to, Event{Kind: Datagram, Frame: f.frame})
		}
		clear(due)
		r.spare = due[:0]
		for i, st := range r.stacks {
			if d, ok := st.NextDeadline(); ok && d <= r.now {
				r.step(i, Event{Kind: Tick})
			}
		}
	}
}

func (r *ring) attach(i int, svc uint16) *session {
	s := &session{node: i, svc: svc}
	r.ses[[2]int{i, int(svc)}] = s
	r.step(i, BusEvent(s, svc, "test", &ipcproto.Msg{Kind: ipcproto.KindAttach, Service: svc, Name: "test"}))
	return s
}

func body(svc uint16, tag uint32) []byte {
	b := pg.AppendExecHeader(nil, pg.ExecHeader{Service: svc, Fn: 1, Size: 16 + 4})
	return binary.BigEndian.AppendUint32(b, tag)
}

func delivered(s *session) []uint32 {
	var tags []uint32
	for _, m := range s.msgs {
		if m.Kind == ipcproto.KindDeliver {
			tags = append(tags, binary.BigEndian.Uint32(m.Payload[16:]))
		}
	}
	return tags
}

// TestStacksFormAndDeliverInOneOrder: three stacks form one ring, a
// service attached on each is activated with all three as members, and
// the multicasts of all three reach every daemon in one order, each
// acked OK to its sender.
func TestStacksFormAndDeliverInOneOrder(t *testing.T) {
	r := newRing(t, 3)
	ss := r.formAndAttach(t, 3, 4)
	for _, s := range ss {
		if !s.active {
			t.Fatalf("n%d: daemon not activated", s.node+1)
		}
	}
	for k := range 30 {
		s := ss[k%3]
		r.step(s.node, BusEvent(s, 4, "test", &ipcproto.Msg{Kind: ipcproto.KindMcast, ID: uint64(k/3 + 1), Payload: body(4, uint32(k))}))
	}
	r.run(r.now + time.Second)
	want := delivered(ss[0])
	if len(want) != 30 {
		t.Fatalf("n1 delivered %d of 30: %v", len(want), want)
	}
	for _, s := range ss {
		if got := delivered(s); !slices.Equal(got, want) {
			t.Fatalf("n%d delivered %v, n1 %v", s.node+1, got, want)
		}
		for _, a := range s.acks {
			if a.Status != cs.OK {
				t.Fatalf("n%d: ack %+v", s.node+1, a)
			}
		}
	}
}

// TestRouting: a request goes to the named service's daemon with Service
// naming the sender; one for a service not attached is answered
// ErrNotExist; one for totemd itself is the driver's (OutSelf).
func TestRouting(t *testing.T) {
	r := newRing(t, 3)
	r.run(time.Second)
	a, b := r.attach(0, 0), r.attach(0, 3)
	r.step(0, BusEvent(b, 3, "test", &ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 7, Service: 0, Payload: []byte("x")}))
	if m := a.msgs[len(a.msgs)-1]; m.Kind != ipcproto.KindRequest || m.ID != 7 || m.Service != 3 {
		t.Fatalf("forwarded %+v", m)
	}
	r.step(0, BusEvent(b, 3, "test", &ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 8, Service: 2}))
	if m := b.msgs[len(b.msgs)-1]; m.Kind != ipcproto.KindResponse || m.ID != 8 || m.Status != cs.ErrNotExist {
		t.Fatalf("answer %+v", m)
	}
	st := r.stacks[0]
	if err := st.Step(r.now, BusEvent(a, 0, "test", &ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 9, Service: SelfService})); err != nil {
		t.Fatal(err)
	}
	rd := st.Ready()
	if len(rd.Outs) != 1 || rd.Outs[0].Kind != OutSelf || rd.Outs[0].Session != Session(a) || rd.Outs[0].Msg.ID != 9 {
		t.Fatalf("outputs %+v", rd.Outs)
	}
	st.Advance(rd)
}

// BenchmarkDelivery is one 64-byte multicast of a daemon on a formed
// three-node ring, from the bus to the daemons of all three nodes: the
// allocations it reports are the stack's per message (srp, pg, and the
// bus message and payload copy of each of the three deliveries).
func BenchmarkDelivery(b *testing.B) {
	r := newRing(b, 3)
	r.run(2 * time.Second)
	var ss []*session
	for i := range r.stacks {
		ss = append(ss, r.attach(i, 4))
	}
	r.run(r.now + time.Second)
	payload := append(body(4, 1), make([]byte, 44)...)
	s := ss[0]
	b.ReportAllocs()
	b.ResetTimer()
	for k := range b.N {
		r.step(0, BusEvent(s, 4, "test", &ipcproto.Msg{Kind: ipcproto.KindMcast, ID: uint64(k + 1), Payload: payload}))
		for len(ss[2].msgs) == 0 || len(ss[1].msgs) == 0 || len(ss[0].msgs) == 0 {
			r.run(r.now + hop)
		}
		for _, x := range ss {
			x.msgs, x.acks = x.msgs[:0], x.acks[:0]
		}
	}
}

// formAndAttach runs the ring for 2 s, requires every stack synced on a
// ring of members nodes, then attaches a daemon of service svc on each
// and runs another second; the sessions in node order.
func (r *ring) formAndAttach(t *testing.T, members int, svc uint16) []*session {
	t.Helper()
	r.run(2 * time.Second)
	for i, st := range r.stacks {
		if m := st.Membership(); len(m.Members) != members || !m.Synced {
			t.Fatalf("n%d: membership %+v", i+1, m)
		}
	}
	var ss []*session
	for i := range r.stacks {
		ss = append(ss, r.attach(i, svc))
	}
	r.run(r.now + time.Second)
	return ss
}
