package srp

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// maxSteps bounds the events of one harness: a protocol storm fails the
// test instead of hanging it.
const maxSteps = 20_000_000

// harness wires a few nodes through an in-memory network with virtual
// time: every frame arrives after a fixed latency, in send order, unless
// the drop filter says otherwise or the destination is down. udpu
// semantics: a multicast goes to every configured node, self included.
type harness struct {
	tb      testing.TB
	now     Time
	latency Time
	ids     []NodeID
	nodes   []*hnode
	net     packetHeap
	cur     packet // the packet being delivered
	steps   int
	seq     uint64
	// drop, when set, is asked about every packet before delivery.
	drop func(p *packet) bool
	// mutate, when set, may adjust each node's config before New.
	mutate func(*Config)
	// jitter, when set, adds a per-packet delay (reordering); dup, when
	// set, says whether to deliver a packet twice.
	jitter func() Time
	dup    func() bool
	// noLog turns off recording deliveries (benchmark).
	noLog bool
	// trace prints every delivery (SRP_LOG set).
	trace bool
}

type hnode struct {
	id         NodeID
	n          *Node
	up         bool
	persisted  uint64
	deliveries []Delivery // messages and configurations, in order
	msgCount   int        // messages delivered, also with noLog
}

type packet struct {
	at       Time
	seq      uint64
	from, to NodeID
	frame    []byte
}

func newHarness(tb testing.TB, count int) *harness {
	h := &harness{tb: tb, latency: 100 * time.Microsecond, trace: os.Getenv("SRP_LOG") != ""}
	for i := 1; i <= count; i++ {
		h.ids = append(h.ids, NodeID(i))
	}
	for _, id := range h.ids {
		h.nodes = append(h.nodes, &hnode{id: id, persisted: 0})
	}
	return h
}

func (h *harness) node(id NodeID) *hnode { return h.nodes[int(id)-1] }

// start (re)creates node id with the ring seq persisted so far + 1.
func (h *harness) start(id NodeID) {
	hn := h.node(id)
	cfg := DefaultConfig(id, h.ids)
	cfg.RingSeq = hn.persisted + 1
	if os.Getenv("SRP_LOG") != "" {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: fmt.Sprintf("node%d", id), Level: hclog.Debug,
			TimeFn: func() time.Time { return time.Unix(0, 0).Add(h.now) }})
	}
	if h.mutate != nil {
		h.mutate(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		h.tb.Fatal(err)
	}
	hn.n, hn.up = n, true
	n.Start(h.now)
	h.drain(hn)
}

func (h *harness) startAll() {
	for _, id := range h.ids {
		h.start(id)
	}
}

// kill stops feeding a node (its frames in flight are lost on arrival).
func (h *harness) kill(id NodeID) { h.node(id).up = false }

func (h *harness) drain(hn *hnode) {
	r := hn.n.Ready()
	if r.PersistRingSeq != 0 {
		hn.persisted = r.PersistRingSeq
	}
	for _, s := range r.Sends {
		if s.To == 0 {
			for _, to := range h.ids {
				h.send(hn.id, to, s.Frame)
			}
		} else {
			h.send(hn.id, s.To, s.Frame)
		}
	}
	for i := range r.Deliveries {
		d := &r.Deliveries[i]
		if d.Conf == nil {
			hn.msgCount++
		}
		if h.trace {
			if d.Conf != nil {
				fmt.Printf("%v node%d conf %d ring %x.%x members %v left %v joined %v\n", h.now, hn.id, d.Conf.Type, d.Conf.Ring.Rep, d.Conf.Ring.Seq, d.Conf.Members, d.Conf.Left, d.Conf.Joined)
			} else {
				fmt.Printf("%v node%d deliver %d:%s\n", h.now, hn.id, d.From, d.Payload)
			}
		}
	}
	if !h.noLog {
		hn.deliveries = append(hn.deliveries, r.Deliveries...)
	}
}

func (h *harness) send(from, to NodeID, frame []byte) {
	copies := 1
	if h.dup != nil && h.dup() {
		copies = 2
	}
	for range copies {
		at := h.now + h.latency
		if h.jitter != nil {
			at += h.jitter()
		}
		h.seq++
		h.net.push(packet{at: at, seq: h.seq, from: from, to: to, frame: frame})
	}
}

// step runs the next event (packet arrival or timer) at or before limit;
// it returns false when nothing is left before limit.
func (h *harness) step(limit Time) bool {
	h.steps++
	if h.steps > maxSteps {
		h.tb.Fatalf("event storm: %d events by t=%v, %d packets in flight", h.steps, h.now, len(h.net))
	}
	if h.steps%2000000 == 0 && os.Getenv("SRP_PROGRESS") != "" {
		var hist [8]int
		for _, p := range h.net {
			hist[p.frame[3]]++
		}
		fmt.Printf("step %d at %v, %d packets in flight by type %v\n", h.steps, h.now, len(h.net), hist)
		for _, hn := range h.nodes {
			if hn.up {
				fmt.Printf("  node %d state %d ring %v proc %v failed %v\n", hn.id, hn.n.state, hn.n.ring, hn.n.proc, hn.n.failed)
			}
		}
	}
	var tn *hnode
	var tat Time
	for _, hn := range h.nodes {
		if !hn.up {
			continue
		}
		if at, ok := hn.n.NextDeadline(); ok && (tn == nil || at < tat) {
			tn, tat = hn, at
		}
	}
	if len(h.net) > 0 && h.net[0].at <= limit && (tn == nil || h.net[0].at <= tat) {
		h.cur = h.net.pop()
		h.now = h.cur.at
		hn := h.node(h.cur.to)
		if !hn.up || (h.drop != nil && h.drop(&h.cur)) {
			return true
		}
		_ = hn.n.Receive(h.now, h.cur.frame)
		h.drain(hn)
		return true
	}
	if tn == nil || tat > limit {
		return false
	}
	h.now = max(h.now, tat)
	tn.n.Tick(h.now)
	h.drain(tn)
	return true
}

// run advances virtual time by d.
func (h *harness) run(d time.Duration) {
	limit := h.now + d
	for h.step(limit) {
	}
	h.now = limit
}

// runUntil advances until cond holds (checked after every event) or d passes.
func (h *harness) runUntil(d time.Duration, cond func() bool) bool {
	limit := h.now + d
	for !cond() {
		if !h.step(limit) {
			h.now = limit
			return cond()
		}
	}
	return true
}

func (h *harness) mcast(id NodeID, payload string) {
	hn := h.node(id)
	if err := hn.n.Mcast(h.now, []byte(payload)); err != nil {
		h.tb.Fatalf("node %d mcast: %v", id, err)
	}
	h.drain(hn)
}

// operational reports whether the given nodes are all OPERATIONAL on one
// ring whose members are exactly them.
func (h *harness) operational(ids ...NodeID) bool {
	var ring RingID
	for i, id := range ids {
		st := h.node(id).n.Status()
		if st.State != Operational || !slices.Equal(st.Members, ids) {
			return false
		}
		if i == 0 {
			ring = st.Ring
		} else if st.Ring != ring {
			return false
		}
	}
	return true
}

// messages lists a node's delivered payloads as "from:payload".
func (hn *hnode) messages() []string {
	var out []string
	for _, d := range hn.deliveries {
		if d.Conf == nil {
			out = append(out, fmt.Sprintf("%d:%s", d.From, d.Payload))
		}
	}
	return out
}

// confs lists a node's configurations.
func (hn *hnode) confs() []ConfChange {
	var out []ConfChange
	for _, d := range hn.deliveries {
		if d.Conf != nil {
			out = append(out, *d.Conf)
		}
	}
	return out
}

// packetHeap is a min-heap on (at, seq): deterministic delivery order.
type packetHeap []packet

func (q packetHeap) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}

func (q *packetHeap) push(p packet) {
	*q = append(*q, p)
	h := *q
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (q *packetHeap) pop() packet {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = packet{}
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h.less(l, m) {
			m = l
		}
		if r < len(h) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}
