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
	n := &tnode{id: id, eng: e, daemons: map[ServiceID]*daemon{}, doneStep: map[ServiceID]int{}, actStep: map[ServiceID]int{}}
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
		c.apply(n, acts)
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
