package syncengine

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// This file is a tiny totally ordered bus for driving several engines: one
// shared log stands for Totem's agreed order; each node delivers a prefix of
// it at its own pace; a node's multicasts enter the log at its token visits
// (in FIFO order), and its token-sent hook runs right after. Service daemons
// are modelled by their timing only: ProcessService is answered after a
// configurable number of the node's token visits by one message in group
// "a" followed by ServiceDone, as a real daemon over the bus would.

type logEntry struct {
	conf    *confEntry // nil for a message
	from    uint32
	group   string
	payload []byte
	dest    []uint32
}

type confEntry struct {
	typ     ConfType
	ring    RingID
	members []uint32            // regular
	trans   map[uint32][]uint32 // transitional, per receiving node
}

type daemon struct {
	delay   int    // own token visits between ProcessService and ServiceDone
	left    int    // visits still to wait, -1 when idle
	round   uint64 // round being processed
	initPos int    // log position of the round's Init
	open    bool   // initialised and not yet activated or aborted
}

type queued struct {
	group   string
	payload []byte
}

type tnode struct {
	id      uint32
	eng     *Engine
	outq    []queued
	cursor  int
	daemons map[ServiceID]*daemon
	// corosync makes the node behave like a corosync 3.1.7 node on the
	// wire: needle message ids are neither sent nor delivered to it
	// (corosync ignores them), so only BUILD and BARRIER flow.
	corosync  bool
	trace     []string // callbacks in order
	completes []RingID
	aborts    int
	doneStep  map[ServiceID]int // step of the last ServiceDone
	actStep   map[ServiceID]int // step of the last activation

	// What each daemon saw, per ring: its views and its group "a"
	// messages, from the ring's first regular view on (views.go).
	holding   bool
	held      []logEntry
	ringStart bool                 // a regular configuration was delivered; views not shown yet
	segRing   map[ServiceID]RingID // ring of the segment being recorded (zero: not recording)
	segs      map[ServiceID]map[RingID][]string
	views     map[ServiceID][]ConfChg // every view, in order
}

type cluster struct {
	t      *testing.T
	nodes  map[uint32]*tnode
	ring   []uint32
	ringID RingID
	log    []logEntry
	rng    *rand.Rand
	token  int
	step   int
}

// newCluster makes n nodes with ids 1..n, each with daemons for every id in
// svcs attached, but no ring yet.
func newCluster(t *testing.T, seed uint64, n int, svcs ...ServiceID) *cluster {
	t.Helper()
	c := &cluster{t: t, nodes: map[uint32]*tnode{}, rng: rand.New(rand.NewPCG(seed, 7)), ringID: RingID{Rep: 1, Seq: 4}}
	for i := 1; i <= n; i++ {
		c.addNode(uint32(i), DefaultAnnounce(), svcs...)
	}
	return c
}

func (c *cluster) addNode(id uint32, announce []ServiceID, svcs ...ServiceID) *tnode {
	e, err := New(Config{Self: id, Announce: announce})
	if err != nil {
		c.t.Fatal(err)
	}
	n := &tnode{id: id, eng: e, daemons: map[ServiceID]*daemon{}, doneStep: map[ServiceID]int{}, actStep: map[ServiceID]int{},
		segRing: map[ServiceID]RingID{}, segs: map[ServiceID]map[RingID][]string{}, views: map[ServiceID][]ConfChg{}}
	c.nodes[id] = n
	for _, s := range svcs {
		c.attach(n, s)
	}
	return n
}

func (c *cluster) attach(n *tnode, s ServiceID) {
	n.daemons[s] = &daemon{left: -1}
	acts, err := n.eng.ServiceAttached(s)
	if err != nil {
		c.t.Fatal(err)
	}
	c.apply(n, acts)
}

func (c *cluster) detach(n *tnode, s ServiceID) {
	delete(n.daemons, s)
	delete(n.segRing, s)
	acts, err := n.eng.ServiceDetached(s)
	if err != nil {
		c.t.Fatal(err)
	}
	c.apply(n, acts)
}

// reconfigure installs a new ring: a transitional configuration (old ∩ new
// for old members, self alone for joiners) then a regular one.
func (c *cluster) reconfigure(members ...uint32) {
	old := c.ring
	c.ringID = RingID{Rep: slices.Min(members), Seq: c.ringID.Seq + 4}
	tr := map[uint32][]uint32{}
	for _, m := range members {
		if slices.Contains(old, m) {
			for _, o := range old {
				if slices.Contains(members, o) {
					tr[m] = append(tr[m], o)
				}
			}
		} else {
			tr[m] = []uint32{m}
		}
	}
	dest := slices.Clone(members)
	c.log = append(c.log,
		logEntry{conf: &confEntry{typ: Transitional, ring: c.ringID, trans: tr}, dest: dest},
		logEntry{conf: &confEntry{typ: Regular, ring: c.ringID, members: slices.Clone(members)}, dest: dest})
	c.ring = slices.Clone(members)
	c.token = 0
}

func isNeedle(p []byte) bool {
	m, err := Decode(p)
	if err != nil {
		return false
	}
	switch m.(type) {
	case ServiceSet, ServiceChange, ServiceBarrier:
		return true
	}
	return false
}

// apply carries out a node's actions the way the totemd driver will.
func (c *cluster) apply(n *tnode, acts []Action) {
	c.t.Helper()
	for _, a := range acts {
		switch a := a.(type) {
		case Multicast:
			if n.corosync && isNeedle(a.Payload) {
				continue
			}
			n.outq = append(n.outq, queued{"sync", a.Payload})
		case NewRing:
			n.trace = append(n.trace, fmt.Sprintf("new ring for %d", a.Service))
		case SyncStarted:
			n.trace = append(n.trace, "started")
		case SyncComplete:
			n.completes = append(n.completes, a.Ring)
			n.trace = append(n.trace, "complete "+a.Ring.String())
		case InitService:
			d := n.daemons[a.Service]
			if d == nil {
				c.t.Fatalf("node %d: init of service %d without a daemon", n.id, a.Service)
			}
			d.initPos, d.open, d.left = n.cursor, true, -1
			n.trace = append(n.trace, fmt.Sprintf("init %d %s trans=%v members=%v", a.Service, a.Kind, a.Trans, a.Members))
		case ProcessService:
			d := n.daemons[a.Service]
			if d == nil || !d.open {
				c.t.Fatalf("node %d: process of service %d not initialised", n.id, a.Service)
			}
			d.round, d.left = a.Round, d.delay
			if d.left == 0 {
				c.daemonDone(n, a.Service, d)
			}
		case ActivateService:
			c.checkActivate(n, a)
			n.trace = append(n.trace, fmt.Sprintf("activate %d %s members=%v", a.Service, a.Kind, a.Members))
		case ServiceConfChg:
			if n.daemons[a.Service] == nil {
				c.t.Fatalf("node %d: view for service %d without a daemon", n.id, a.Service)
			}
			if n.holding && a.Conf.Type == Transitional {
				c.t.Fatalf("node %d: transitional view while holding deliveries", n.id)
			}
			n.view(a.Service, a.Conf)
		case HoldDeliveries:
			if n.holding {
				c.t.Fatalf("node %d: hold while holding", n.id)
			}
			n.holding = true
		case ReleaseDeliveries:
			if !n.holding {
				c.t.Fatalf("node %d: release without hold", n.id)
			}
			n.holding, n.ringStart = false, false
			held := n.held
			n.held = nil
			for _, e := range held {
				c.deliverA(n, e)
			}
		case AbortService:
			d := n.daemons[a.Service]
			if d == nil || !d.open {
				c.t.Fatalf("node %d: abort of service %d not initialised", n.id, a.Service)
			}
			d.open, d.left = false, -1
			n.aborts++
			n.trace = append(n.trace, fmt.Sprintf("abort %d", a.Service))
		default:
			c.t.Fatalf("unknown action %T", a)
		}
	}
}

// daemonDone is the daemon sending its sync message then reporting done.
func (c *cluster) daemonDone(n *tnode, s ServiceID, d *daemon) {
	d.left = -1
	n.outq = append(n.outq, queued{"a", []byte(fmt.Sprintf("svc %d from %d round %d", s, n.id, d.round))})
	n.doneStep[s] = c.step
	c.apply(n, n.eng.ServiceDone(s, d.round))
}

// checkActivate asserts the barrier property: when node n activates s,
// every member that was initialised for the same round has had its sync
// message for s delivered to n already.
func (c *cluster) checkActivate(n *tnode, a ActivateService) {
	c.t.Helper()
	d := n.daemons[a.Service]
	if d == nil || !d.open {
		c.t.Fatalf("node %d: activate of service %d not initialised", n.id, a.Service)
	}
	d.open = false
	n.actStep[a.Service] = c.step
	prefix := fmt.Sprintf("svc %d from ", a.Service)
	for _, p := range a.Members {
		pn := c.nodes[p]
		pd := pn.daemons[a.Service]
		if pd == nil || pd.initPos != d.initPos || !slices.Contains(c.ring, p) {
			continue
		}
		found := false
		for _, e := range c.log[d.initPos:n.cursor] {
			if e.conf == nil && e.from == p && e.group == "a" && strings.HasPrefix(string(e.payload), prefix) {
				found = true
			}
		}
		if !found {
			c.t.Fatalf("node %d activated service %d before node %d's sync message was delivered", n.id, a.Service, p)
		}
	}
}

func (c *cluster) deliver(n *tnode, e logEntry) {
	c.t.Helper()
	if e.conf != nil {
		members := e.conf.members
		if e.conf.typ == Transitional {
			members = e.conf.trans[n.id]
		}
		acts, err := n.eng.ConfChange(e.conf.typ, members, e.conf.ring)
		if err != nil {
			c.t.Fatalf("node %d: %v", n.id, err)
		}
		n.ringStart = e.conf.typ == Regular
		c.apply(n, acts)
		return
	}
	if e.group == "a" {
		if n.holding {
			n.held = append(n.held, e)
		} else {
			c.deliverA(n, e)
		}
		return
	}
	if e.group != "sync" || (n.corosync && isNeedle(e.payload)) {
		return
	}
	acts, err := n.eng.Deliver(e.from, e.payload)
	if err != nil {
		c.t.Fatalf("node %d: deliver from %d: %v", n.id, e.from, err)
	}
	c.apply(n, acts)
}

// deliverA hands a group "a" message to its service's daemon, recording it
// in the daemon's stream.
func (c *cluster) deliverA(n *tnode, e logEntry) {
	var svc ServiceID
	if _, err := fmt.Sscanf(string(e.payload), "svc %d ", &svc); err != nil {
		c.t.Fatalf("group a payload %q", e.payload)
	}
	if n.daemons[svc] != nil {
		n.record(svc, string(e.payload))
	}
}

// record appends to the daemon's stream of the ring being recorded.
func (n *tnode) record(svc ServiceID, ev string) {
	r, ok := n.segRing[svc]
	if !ok || r.IsZero() {
		return
	}
	n.segs[svc][r] = append(n.segs[svc][r], ev)
}

// view records a configuration change shown to a daemon. A transitional
// view of another ring stops recording (transitional views differ between
// merging partitions); the first regular view of a ring starts a segment,
// unless the daemon attached in the middle of the ring.
func (n *tnode) view(svc ServiceID, cc ConfChg) {
	n.views[svc] = append(n.views[svc], cc)
	ev := fmt.Sprintf("%s ring=%v members=%v left=%v joined=%v ringmembers=%v", cc.Type, cc.Ring, cc.Members, cc.Left, cc.Joined, cc.RingMembers)
	switch {
	case cc.Type == Transitional && cc.Ring != n.segRing[svc]:
		n.segRing[svc] = RingID{}
	case cc.Type == Regular && n.segRing[svc].IsZero() && n.ringStart:
		n.segRing[svc] = cc.Ring
		if n.segs[svc] == nil {
			n.segs[svc] = map[RingID][]string{}
		}
		// Left and Joined of a ring's first regular view are relative
		// to each node's transitional view, which differs between
		// merging partitions; the members are the same everywhere.
		n.segs[svc][cc.Ring] = []string{fmt.Sprintf("regular ring=%v members=%v ringmembers=%v", cc.Ring, cc.Members, cc.RingMembers)}
		return
	}
	n.record(svc, ev)
}

// checkViews asserts the service membership property: for every service
// and ring, every daemon that saw the ring's first regular view saw the
// same sequence of views and messages in it (one a prefix of the other
// while delivery is still under way).
func (c *cluster) checkViews() {
	c.t.Helper()
	type key struct {
		svc  ServiceID
		ring RingID
	}
	longest := map[key][]string{}
	owner := map[key]uint32{}
	for _, id := range slices.Sorted(maps.Keys(c.nodes)) {
		n := c.nodes[id]
		if n.corosync {
			continue // a corosync node runs no needle daemon: its stand-ins see no service rounds
		}
		for svc, rings := range n.segs {
			for r, seg := range rings {
				k := key{svc, r}
				l := longest[k]
				short, long := seg, l
				if len(short) > len(long) {
					short, long = long, short
				}
				if !slices.Equal(short, long[:len(short)]) {
					c.t.Fatalf("service %d ring %v: node %d saw\n  %s\nnode %d saw\n  %s", svc, r, id,
						strings.Join(seg, "\n  "), owner[k], strings.Join(l, "\n  "))
				}
				if len(seg) >= len(l) {
					longest[k], owner[k] = seg, id
				}
			}
		}
	}
}

// advance delivers to n the log entries addressed to it up to position to.
func (c *cluster) advance(n *tnode, to int) {
	for n.cursor < to {
		e := c.log[n.cursor]
		n.cursor++
		if slices.Contains(e.dest, n.id) {
			c.deliver(n, e)
		}
	}
}

// stepOnce is one token visit followed by random partial delivery.
func (c *cluster) stepOnce() {
	c.step++
	holder := c.nodes[c.ring[c.token%len(c.ring)]]
	c.token++
	for _, q := range holder.outq {
		c.log = append(c.log, logEntry{from: holder.id, group: q.group, payload: q.payload, dest: slices.Clone(c.ring)})
	}
	holder.outq = nil
	for _, s := range slices.Sorted(maps.Keys(holder.daemons)) {
		d := holder.daemons[s]
		if d.left > 0 {
			d.left--
			if d.left == 0 {
				c.daemonDone(holder, s, d)
			}
		}
	}
	c.apply(holder, holder.eng.TokenSent())
	for _, id := range c.ring {
		n := c.nodes[id]
		c.advance(n, n.cursor+c.rng.IntN(len(c.log)-n.cursor+1))
	}
}

// quiet reports whether every ring node is idle with nothing left to send
// or deliver.
func (c *cluster) quiet() bool {
	for _, id := range c.ring {
		n := c.nodes[id]
		if n.eng.Status().Active || len(n.outq) > 0 || n.cursor < len(c.log) {
			return false
		}
	}
	return true
}

// run steps until quiet, failing after max steps.
func (c *cluster) run(max int) {
	c.t.Helper()
	for i := 0; i < max; i++ {
		if c.quiet() {
			c.checkViews()
			return
		}
		c.stepOnce()
	}
	for _, id := range c.ring {
		c.t.Logf("node %d: %+v outq=%d cursor=%d/%d", id, c.nodes[id].eng.Status(), len(c.nodes[id].outq), c.nodes[id].cursor, len(c.log))
	}
	c.t.Fatalf("not quiet after %d steps", max)
}

// runUntil steps until cond holds, failing after max steps.
func (c *cluster) runUntil(max int, cond func() bool) {
	c.t.Helper()
	for i := 0; i < max; i++ {
		if cond() {
			return
		}
		c.stepOnce()
	}
	c.t.Fatalf("condition not reached after %d steps", max)
}

// activations lists the services node n activated, with their kind, since
// the trace entry at index from.
func (n *tnode) activations(from int) []string {
	var a []string
	for _, s := range n.trace[from:] {
		if strings.HasPrefix(s, "activate ") {
			f := strings.Fields(s)
			a = append(a, f[1]+"/"+f[2])
		}
	}
	return a
}

// lastIndex returns the index of the last trace entry starting with prefix,
// or -1.
func (n *tnode) lastIndex(prefix string) int {
	for i := len(n.trace) - 1; i >= 0; i-- {
		if strings.HasPrefix(n.trace[i], prefix) {
			return i
		}
	}
	return -1
}

// checkNoOpenInits asserts every Init was closed by Activate or Abort.
func (c *cluster) checkNoOpenInits() {
	c.t.Helper()
	for _, id := range c.ring {
		for s, d := range c.nodes[id].daemons {
			if d.open {
				c.t.Errorf("node %d: service %d initialised but never activated or aborted", id, s)
			}
		}
	}
}
