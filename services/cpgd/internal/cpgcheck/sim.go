// Package cpgcheck drives several cpg cores over simulated ring histories
// and checks CPG-level virtual synchrony.
//
// The ring model is extended virtual synchrony as Totem and needle's
// totemd provide it, at the level of the cpg service membership (a node
// crash and a cpgd restart look the same to cpg: the node leaves the
// service ring and later joins again with a fresh core):
//
//   - every ring has one agreed sequence; its members deliver it in order,
//     each at its own pace;
//   - a node's multicasts wait in its queue until the ring sequences them;
//     while a sync round runs on the node (from the configuration change to
//     its activation) only its sync queue is sent (corosync's trans-ack
//     gate), so what was queued before the change waits for the round;
//   - when a ring breaks, the members that stay together deliver the same
//     prefix of the old sequence (at least every message they sent
//     themselves), possibly different from another part's;
//   - sync rounds: every member runs SyncProcess, its sync messages and a
//     barrier go to the sync queue, and each member activates when it has
//     delivered every member's barrier of that ring; a new configuration
//     before that aborts the round. Barriers and JOINLISTs of an aborted
//     round that were still queued are sent in the next ring, as totemd
//     would;
//   - with Options.BusRace, the messages a node queued just before a
//     configuration change sometimes reach totemd after it; totemd refuses
//     a service's ordinary multicasts during its round (libs/ipcproto's
//     doc), so they wait, in order, behind the round's sync messages;
//   - a cpgd may also lose its bus to totemd and get it back with its core
//     and clients kept (cpgd's adapter does so): what it had queued fails
//     and is given back (Requeue) at the reattachment, what the ring had
//     taken reaches the other nodes only;
//   - a cpgd may restart on purpose when its core is quiet and hand the
//     core over to its successor (handover.go): nobody notices.
//
// Clients join, leave, multicast (whole and fragmented), disconnect and
// finalize at random, also while a round runs (the core must hold, never
// drop). The checker (check.go) records what every client saw and checks,
// as it goes and at the end, after healing every partition:
//   - virtual synchrony: two processes that install the same view and then
//     the same next view of their group delivered the same messages
//     (fragmented ones counted when complete) between them;
//   - every confchg a client sees is the previous view plus joined minus
//     left, in (node, pid) order, its first one is its own join, and
//     membership_get agrees with it;
//   - nodes that activated a ring have the same process list after every
//     delivery, and the same after the activation, with no process of a
//     node outside the round (no ghost);
//   - per client: agreed order, per-sender FIFO, no duplicate, its own
//     accepted messages delivered (except a fragmented one a sync round
//     cut, or one the ring took while its cpgd was detached);
//   - at the end: one process list on every node, equal to the processes
//     joined, and each client's last view equal to its group's members.
package cpgcheck

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpg"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpgmsg"
)

// Options configure one run.
type Options struct {
	Seed  uint64
	Nodes int // 2..
	Steps int // random steps before the final quiet phase
	// Keep317AbortBug runs the cores with 3.1.7's abort behaviour.
	Keep317AbortBug bool
	// FaultRate is the chance per step of a membership fault (0..1).
	FaultRate float64
	// BusRace models cpgd's multicasts reaching totemd just after a
	// configuration change. totemd refuses them until the service's
	// activation and svchost resends them after its sync messages
	// (libs/ipcproto's doc, "Multicasts during a sync round"), so no cpg
	// message is delivered inside a round and the checker checks full
	// virtual synchrony as without the race.
	BusRace bool
	// HandoverRate is the chance per step that a node's cpgd restarts on
	// purpose: when its core is quiet, the core is handed over to the
	// successor (handover.go); otherwise the attempt waits for a later
	// step. Handovers draw from their own generator: the rest of the
	// history is the same whatever the rate.
	HandoverRate float64
	// Trace, if set, gets one line per step.
	Trace func(string)
	// Output, if set, gets every multicast (an encoded []byte) and event
	// (a cpg.Event) the cores want done, in order: what must not change
	// when a core is handed over (TestHandoverChangesNothing).
	Output func(node uint32, out any)
}

// entry is one sequenced ring message.
type entry struct {
	from    uint32
	payload []byte  // nil for a barrier
	barrier ring.ID // ring of the barrier
}

// simRing is one ring of the service membership.
type simRing struct {
	id        ring.ID
	members   []uint32
	seq       []entry
	delivered map[uint32]int
}

// node is one cluster node with its current cpgd incarnation.
type node struct {
	id   uint32
	up   bool
	inc  int
	core *cpg.Core
	ring *simRing

	normalQ, syncQ [][]byte // queued, not yet sequenced (nil payload in syncQ = barrier)
	syncBar        []bool   // parallel to syncQ: is a barrier
	syncBarRing    []ring.ID
	waitingAck     bool // sync round running: only syncQ is sent
	round          *cpg.Round
	processed      bool
	barriers       map[uint32]bool // senders whose barrier of ring was delivered
	prevMembers    []uint32        // members of the ring before the current one (for Trans)
	rounds         int             // sync rounds started on this node
	detached       bool            // cpgd lost totemd; core and clients kept
	failed         [][]byte        // multicasts the host failed at the detachment
	clients        []*client
	nextConn       cpg.ConnID
}

// Stats count what a run exercised.
type Stats struct {
	Rounds, BarrierAborts, ProcessAborts int // sync rounds started; aborted after / before SyncProcess
	RaceMoves                            int // queues sent inside a round (the bus race)
	InRoundCpg                           int // PROCJOIN/PROCLEAVE/MCAST delivered inside a round
	Confchgs, Messages, Fragments        int // events clients got
	Crashes, Detaches                    int
	Handovers, HandoverWaits             int // cores handed over; attempts on a core that was not quiet
}

// Sim is one simulated cluster.
type Sim struct {
	Stats Stats

	opt     Options
	rng     *rand.Rand
	hrng    *rand.Rand // handovers' own generator
	nodes   []*node
	rings   []*simRing
	ringSeq uint64
	roundID uint64
	step    int
	chk     *Checker
	groups  []string
	fullCut bool // the ring did not break: every part delivers all it sequenced
}

// New builds a simulation; nothing has happened yet.
func New(opt Options) *Sim {
	if opt.Nodes < 1 {
		opt.Nodes = 3
	}
	s := &Sim{
		opt:  opt,
		rng:  rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15)),
		hrng: newHandoverRand(opt.Seed),
		// Names with NUL bytes and the same C string ("cib", "cib\x00"),
		// the empty name and the longest one.
		groups: []string{"grp", "cib\x00", "cib", "", "a\x00b", strings.Repeat("L", cpg.MaxNameLength)},
	}
	s.chk = newChecker(s)
	for i := 1; i <= opt.Nodes; i++ {
		s.nodes = append(s.nodes, &node{id: uint32(i)})
	}
	return s
}

// Checker returns the run's checker.
func (s *Sim) Checker() *Checker { return s.chk }

func (s *Sim) tracef(format string, args ...any) {
	if s.opt.Trace != nil {
		s.opt.Trace(fmt.Sprintf("%5d ", s.step) + fmt.Sprintf(format, args...))
	}
}

func (s *Sim) node(id uint32) *node { return s.nodes[id-1] }

// start brings a node's cpgd up with a fresh core (not yet in a ring).
func (s *Sim) start(n *node) {
	n.up = true
	n.inc++
	c, err := cpg.New(cpg.Config{NodeID: n.id, Keep317AbortBug: s.opt.Keep317AbortBug})
	if err != nil {
		panic(err)
	}
	n.core = c
	n.ring, n.round, n.processed, n.waitingAck = nil, nil, false, false
	n.normalQ, n.syncQ, n.syncBar, n.syncBarRing = nil, nil, nil, nil
	n.clients, n.prevMembers = nil, nil
	n.detached, n.failed = false, nil
}

// stop kills a node's cpgd (or the node): its clients vanish with it and
// what it had not handed to the ring is lost.
func (s *Sim) stop(n *node) {
	for _, cl := range n.clients {
		s.chk.gone(cl)
	}
	n.up, n.core, n.clients = false, nil, nil
	n.normalQ, n.syncQ, n.syncBar, n.syncBarRing = nil, nil, nil, nil
}

// components returns the current rings' member sets.
func (s *Sim) components() [][]uint32 {
	var out [][]uint32
	for _, r := range s.rings {
		out = append(out, slices.Clone(r.members))
	}
	return out
}

// Reconfigure installs new components (each a set of up nodes; together
// every up node exactly once). Rings whose membership is unchanged stay.
func (s *Sim) Reconfigure(comps [][]uint32) {
	for _, c := range comps {
		slices.Sort(c)
	}
	keep := map[*simRing]bool{}
	var changed [][]uint32
	for _, c := range comps {
		var same *simRing
		for _, r := range s.rings {
			if slices.Equal(r.members, c) && s.ringIntact(r) {
				same = r
			}
		}
		if same != nil {
			keep[same] = true
		} else {
			changed = append(changed, c)
		}
	}
	if len(changed) == 0 {
		s.rings = slices.DeleteFunc(s.rings, func(r *simRing) bool { return !keep[r] })
		return
	}
	compOf := map[uint32]int{}
	for i, c := range changed {
		for _, m := range c {
			compOf[m] = i
		}
	}
	// The old rings end: each part that stays together delivers one prefix.
	var rings []*simRing
	for _, r := range s.rings {
		if keep[r] {
			rings = append(rings, r)
			continue
		}
		parts := map[int][]uint32{}
		for _, m := range r.members {
			n := s.node(m)
			if !n.up || n.ring != r {
				continue
			}
			if i, ok := compOf[m]; ok {
				parts[i] = append(parts[i], m)
			}
		}
		for _, i := range sortedKeys(parts) {
			t := parts[i]
			lo := 0
			for _, m := range t {
				lo = max(lo, r.delivered[m])
				for x := len(r.seq) - 1; x >= lo; x-- {
					if r.seq[x].from == m {
						lo = x + 1
						break
					}
				}
			}
			cut := lo + s.rng.IntN(len(r.seq)-lo+1)
			if s.fullCut {
				cut = len(r.seq)
			}
			for _, m := range t {
				for r.delivered[m] < cut && s.node(m).ring == r {
					s.deliverNext(s.node(m))
				}
			}
		}
	}
	for _, c := range changed {
		s.ringSeq++
		r := &simRing{id: ring.ID{Rep: c[0], Seq: s.ringSeq * 4}, members: c, delivered: map[uint32]int{}}
		rings = append(rings, r)
		s.roundID++
		// Trans: members of the node's old ring that come along with it.
		transOf := map[uint32][]uint32{}
		for _, m := range c {
			n := s.node(m)
			transOf[m] = []uint32{m}
			if n.ring != nil {
				transOf[m] = nil
				for _, o := range n.ring.members {
					if slices.Contains(c, o) && s.node(o).ring == n.ring {
						transOf[m] = append(transOf[m], o)
					}
				}
			}
		}
		for _, m := range c {
			n := s.node(m)
			trans := transOf[m]
			if n.round != nil {
				if n.processed {
					s.Stats.BarrierAborts++
				} else {
					s.Stats.ProcessAborts++
				}
				n.core.SyncAbort()
				s.chk.abort(n)
			}
			n.ring = r
			n.core.ConfChg(ring.Transitional)
			n.core.ConfChg(ring.Regular)
			rd := cpg.Round{ID: s.roundID, Ring: r.id, Members: slices.Clone(c), Trans: trans}
			n.round = &rd
			n.processed = false
			n.rounds++
			s.Stats.Rounds++
			n.barriers = map[uint32]bool{}
			n.core.SyncInit(rd)
			n.waitingAck = true
			if s.opt.BusRace && s.rng.IntN(4) == 0 && len(n.normalQ) > 0 {
				// The bus race: the queued messages reach totemd after
				// its configuration change. totemd refuses them (TryAgain)
				// until the activation; svchost keeps them queued, in
				// order, behind the round's sync messages, so they stay
				// in the ordinary queue.
				s.Stats.RaceMoves++
			}
			s.drain(n)
		}
		s.tracef("ring %v members %v", r.id, c)
	}
	s.rings = rings
}

// ringIntact reports whether every member of r is up and still in r.
func (s *Sim) ringIntact(r *simRing) bool {
	for _, m := range r.members {
		n := s.node(m)
		if !n.up || n.ring != r {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[int]V) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// drain takes the core's output: multicasts into the node's queue,
// events to the checker.
func (s *Sim) drain(n *node) {
	rd := n.core.Ready()
	if s.opt.Output != nil {
		for _, m := range rd.Mcasts {
			s.opt.Output(n.id, m)
		}
		for _, e := range rd.Events {
			s.opt.Output(n.id, e)
		}
	}
	for _, m := range rd.Mcasts {
		if n.waitingAck {
			n.syncQ = append(n.syncQ, m)
			n.syncBar = append(n.syncBar, false)
			n.syncBarRing = append(n.syncBarRing, ring.ID{})
		} else {
			n.normalQ = append(n.normalQ, m)
		}
	}
	for _, e := range rd.Events {
		s.chk.event(n, e)
	}
}

// process runs SyncProcess on a node: its sync messages, then its barrier.
func (s *Sim) process(n *node) {
	if !n.core.SyncProcess(*n.round) {
		panic("cpg core SyncProcess not done at once")
	}
	n.processed = true
	s.drain(n)
	n.syncQ = append(n.syncQ, nil)
	n.syncBar = append(n.syncBar, true)
	n.syncBarRing = append(n.syncBarRing, n.ring.id)
}

// sequence gives the head of a node's sendable queue its place in the ring.
func (s *Sim) sequence(n *node) bool {
	r := n.ring
	if n.waitingAck {
		if len(n.syncQ) == 0 {
			return false
		}
		e := entry{from: n.id, payload: n.syncQ[0]}
		if n.syncBar[0] {
			e.barrier = n.syncBarRing[0]
		}
		n.syncQ, n.syncBar, n.syncBarRing = n.syncQ[1:], n.syncBar[1:], n.syncBarRing[1:]
		r.seq = append(r.seq, e)
		return true
	}
	if len(n.normalQ) == 0 {
		return false
	}
	r.seq = append(r.seq, entry{from: n.id, payload: n.normalQ[0]})
	n.normalQ = n.normalQ[1:]
	return true
}

// deliverNext delivers the node's next message of its ring.
func (s *Sim) deliverNext(n *node) bool {
	r := n.ring
	x := r.delivered[n.id]
	if x >= len(r.seq) {
		return false
	}
	r.delivered[n.id] = x + 1
	e := r.seq[x]
	s.chk.at(n, r.id, x)
	if e.payload == nil {
		if e.barrier == r.id && n.round != nil && n.round.Ring == r.id {
			n.barriers[e.from] = true
			if len(n.barriers) == len(r.members) {
				s.activate(n)
			}
		}
		return true
	}
	if n.round != nil && e.payload[0] != 2 && e.payload[0] != 5 {
		s.Stats.InRoundCpg++ // not a JOINLIST (fn 2) or DOWNLIST (fn 5)
	}
	if err := n.core.Deliver(e.from, e.payload, false); err != nil {
		panic(fmt.Sprintf("node %d: %v", n.id, err))
	}
	s.drain(n)
	s.chk.delivered(n, r.id, x)
	return true
}

func (s *Sim) activate(n *node) {
	rd := *n.round
	s.chk.at(n, n.ring.id, -1)
	n.core.SyncActivate(rd)
	n.round = nil
	n.waitingAck = false
	// What is left in the sync queue goes first once the gate opens.
	for i, p := range n.syncQ {
		if !n.syncBar[i] {
			n.normalQ = append([][]byte{p}, n.normalQ...)
		}
	}
	n.syncQ, n.syncBar, n.syncBarRing = nil, nil, nil
	s.drain(n)
	s.chk.activated(n, rd)
}

// upNodes lists the nodes that are up.
func (s *Sim) upNodes() []*node {
	var out []*node
	for _, n := range s.nodes {
		if n.up {
			out = append(out, n)
		}
	}
	return out
}

// Run plays the whole history and returns the checker's verdict.
func (s *Sim) Run() []string {
	for _, n := range s.nodes {
		s.start(n)
	}
	// Start as one ring, or in pieces.
	var comps [][]uint32
	for _, n := range s.nodes {
		if len(comps) == 0 || s.rng.IntN(3) == 0 {
			comps = append(comps, []uint32{n.id})
		} else {
			comps[len(comps)-1] = append(comps[len(comps)-1], n.id)
		}
	}
	s.Reconfigure(comps)
	for s.step = 0; s.step < s.opt.Steps; s.step++ {
		s.randomStep(true)
		s.maybeHandover()
		for _, n := range s.upNodes() {
			if err := n.core.CheckInvariants(); err != nil {
				s.chk.violate("node %d: %v", n.id, err)
			}
		}
		if s.chk.failed() {
			return s.chk.Violations()
		}
	}
	s.Quiesce()
	s.chk.final()
	return s.chk.Violations()
}

// Quiesce restarts every node, heals every partition and runs until
// nothing is left to do.
func (s *Sim) Quiesce() {
	for _, n := range s.nodes {
		if !n.up {
			s.start(n)
		}
		if n.detached {
			s.reattach(n)
		}
	}
	var all []uint32
	for _, n := range s.nodes {
		all = append(all, n.id)
	}
	s.Reconfigure([][]uint32{all})
	for i := 0; i < 200000; i++ {
		if !s.workStep() {
			return
		}
	}
	panic("cpgcheck: the cluster does not settle")
}

// workStep does one piece of pending ring work (process, sequence or
// deliver), chosen at random; false when there is none.
func (s *Sim) workStep() bool {
	type job struct {
		n    *node
		kind int
	}
	var jobs []job
	for _, n := range s.upNodes() {
		if n.ring == nil {
			continue // detached
		}
		if n.round != nil && !n.processed {
			jobs = append(jobs, job{n, 0})
		}
		if (n.waitingAck && len(n.syncQ) > 0) || (!n.waitingAck && len(n.normalQ) > 0) {
			jobs = append(jobs, job{n, 1})
		}
		if n.ring.delivered[n.id] < len(n.ring.seq) {
			jobs = append(jobs, job{n, 2})
		}
	}
	if len(jobs) == 0 {
		return false
	}
	j := jobs[s.rng.IntN(len(jobs))]
	switch j.kind {
	case 0:
		s.process(j.n)
	case 1:
		s.sequence(j.n)
	case 2:
		s.deliverNext(j.n)
	}
	return true
}

// randomStep is one step: ring work, a client action, or a fault.
func (s *Sim) randomStep(faults bool) {
	p := s.rng.Float64()
	switch {
	case faults && p < s.opt.FaultRate:
		s.fault()
	case p < 0.45:
		if !s.workStep() {
			s.clientStep()
		}
	default:
		s.clientStep()
	}
}

// fault changes the membership: split, merge, crash or restart.
func (s *Sim) fault() {
	comps := s.components()
	var down []*node
	for _, n := range s.nodes {
		if !n.up {
			down = append(down, n)
		}
	}
	var detached []*node
	for _, n := range s.upNodes() {
		if n.detached {
			detached = append(detached, n)
		}
	}
	if len(comps) == 0 && len(detached) == 0 && len(down) == 0 {
		return
	}
	switch k := s.rng.IntN(6); {
	case k == 4 && len(comps) > 0: // a cpgd loses its bus to totemd
		c := comps[s.rng.IntN(len(comps))]
		s.detach(s.node(c[s.rng.IntN(len(c))]))
		return
	case k == 5 && len(detached) > 0: // and gets it back
		n := detached[s.rng.IntN(len(detached))]
		s.reattach(n)
		s.tracef("reattach node %d", n.id)
		if len(comps) > 0 && s.rng.IntN(2) == 0 {
			i := s.rng.IntN(len(comps))
			comps[i] = append(comps[i], n.id)
		} else {
			comps = append(comps, []uint32{n.id})
		}
	case k == 0 && len(down) > 0: // restart a node (or its cpgd)
		n := down[s.rng.IntN(len(down))]
		s.start(n)
		s.tracef("start node %d (incarnation %d)", n.id, n.inc)
		if len(comps) > 0 && s.rng.IntN(2) == 0 {
			i := s.rng.IntN(len(comps))
			comps[i] = append(comps[i], n.id)
		} else {
			comps = append(comps, []uint32{n.id})
		}
	case k == 1 && len(s.upNodes()) > 1: // crash a node or its cpgd
		up := s.upNodes()
		n := up[s.rng.IntN(len(up))]
		s.tracef("stop node %d", n.id)
		s.Stats.Crashes++
		s.stop(n)
		var out [][]uint32
		for _, c := range comps {
			c = slices.DeleteFunc(c, func(m uint32) bool { return m == n.id })
			if len(c) > 0 {
				out = append(out, c)
			}
		}
		comps = out
	case k == 2 && len(comps) > 1: // merge two parts
		i, j := s.rng.IntN(len(comps)), s.rng.IntN(len(comps)-1)
		if j >= i {
			j++
		}
		comps[i] = append(comps[i], comps[j]...)
		comps = slices.Delete(comps, j, j+1)
		s.tracef("merge")
	default: // split a part
		if len(comps) == 0 {
			return
		}
		i := s.rng.IntN(len(comps))
		c := comps[i]
		if len(c) < 2 {
			return
		}
		s.rng.Shuffle(len(c), func(a, b int) { c[a], c[b] = c[b], c[a] })
		cut := 1 + s.rng.IntN(len(c)-1)
		comps = append(comps, slices.Clone(c[cut:]))
		comps[i] = slices.Clone(c[:cut])
		s.tracef("split")
	}
	s.Reconfigure(comps)
}

// detach: node n's cpgd loses totemd. What it had queued fails and is
// given back to the core; what the ring already sequenced reaches every
// other member (the totem ring is intact) but not n's cpgd. The others see
// n leave the service membership.
func (s *Sim) detach(n *node) {
	s.tracef("detach node %d", n.id)
	s.Stats.Detaches++
	var failed [][]byte
	failed = append(failed, n.normalQ...)
	for i, p := range n.syncQ {
		if !n.syncBar[i] {
			failed = append(failed, p)
		}
	}
	// Messages of n's clients sequenced but not delivered to n: the
	// others get them, n's clients do not (self delivery is lost).
	requeued := map[string]bool{}
	for _, p := range failed {
		if m, err := cpgmsg.Decode(p, false); err == nil {
			if mc, ok := m.(cpgmsg.Mcast); ok {
				requeued[string(mc.Data)] = true
			}
		}
	}
	for _, cl := range n.clients {
		s.chk.detached(cl, requeued)
	}
	n.normalQ, n.syncQ, n.syncBar, n.syncBarRing = nil, nil, nil, nil
	n.core.Detached()
	n.failed = failed // given back at the reattachment, as cpgd's adapter does
	n.detached = true
	n.round, n.processed, n.waitingAck = nil, false, false
	var comps [][]uint32
	for _, c := range s.components() {
		c = slices.DeleteFunc(c, func(m uint32) bool { return m == n.id })
		if len(c) > 0 {
			comps = append(comps, c)
		}
	}
	old := n.ring
	n.ring = nil
	_ = old
	s.fullCut = true
	s.Reconfigure(comps)
	s.fullCut = false
}

// reattach: the cpgd of a detached node has totemd again; it joins a ring
// with the next Reconfigure.
func (s *Sim) reattach(n *node) {
	n.detached = false
	n.ring = nil
	n.core.Requeue(n.failed)
	n.failed = nil
}

// Connect opens a client on a node.
func (s *Sim) Connect(nodeID, pid uint32) *client {
	n := s.node(nodeID)
	n.nextConn++
	cl := &client{node: n.id, inc: n.inc, id: n.nextConn, pid: pid}
	if err := n.core.Connect(cl.id); err != nil {
		panic(err)
	}
	n.clients = append(n.clients, cl)
	s.chk.connected(cl)
	return cl
}

// Join makes a client join a group.
func (s *Sim) Join(cl *client, group string) cs.Error {
	n := s.node(cl.node)
	st := n.core.Join(cl.id, group, cl.pid, 0)
	if st == cs.OK {
		cl.group, cl.member = group, true
	}
	s.drain(n)
	return st
}

// Settle does ring work until there is none.
func (s *Sim) Settle() {
	for s.workStep() {
	}
}

// clientStep makes one client do something.
func (s *Sim) clientStep() {
	up := s.upNodes()
	n := up[s.rng.IntN(len(up))]
	if len(n.clients) == 0 || (len(n.clients) < 4 && s.rng.IntN(6) == 0) {
		s.Connect(n.id, 100+uint32(s.rng.IntN(3)))
		return
	}
	cl := n.clients[s.rng.IntN(len(n.clients))]
	switch k := s.rng.IntN(20); {
	case k < 4:
		g := s.groups[s.rng.IntN(len(s.groups))]
		flags := uint32(s.rng.IntN(2))
		st := n.core.Join(cl.id, g, cl.pid, flags)
		s.tracef("node %d conn %d pid %d join %q: %v", n.id, cl.id, cl.pid, g, st)
		if st == cs.OK {
			cl.group, cl.member = g, true
		}
	case k < 6:
		st := n.core.Leave(cl.id)
		s.tracef("node %d conn %d leave: %v", n.id, cl.id, st)
		if st == cs.OK {
			cl.member = false
		}
	case k < 14:
		cl.sent++
		data := fmt.Appendf(nil, "%d/%d/%d/%d", n.id, n.inc, cl.id, cl.sent)
		st := n.core.Mcast(cl.id, data)
		s.tracef("node %d conn %d mcast %s: %v (held %d)", n.id, cl.id, data, st, n.core.Held())
		if st == cs.OK {
			s.chk.accepted(cl, string(data), 0)
		}
	case k < 16:
		s.partial(n, cl)
	case k < 17:
		s.tracef("node %d conn %d disconnect", n.id, cl.id)
		n.core.Disconnect(cl.id)
		s.chk.gone(cl)
		n.clients = slices.DeleteFunc(n.clients, func(o *client) bool { return o == cl })
	case k < 18 && s.rng.IntN(4) == 0:
		n.core.Finalize(cl.id)
		cl.finalized = true
		s.chk.finalized(cl)
	default:
		s.chk.membership(n, cl)
	}
	s.drain(n)
}

// partial sends a fragmented message (2–3 fragments) in one go, as libcpg
// does, or stops after an error.
func (s *Sim) partial(n *node, cl *client) {
	cl.sent++
	data := fmt.Appendf(nil, "%d/%d/%d/%d/partial-payload", n.id, n.inc, cl.id, cl.sent)
	first := n.rounds + 1
	cuts := []int{0, 4 + s.rng.IntN(5), len(data)}
	if s.rng.IntN(2) == 0 {
		cuts = []int{0, 3, 3 + s.rng.IntN(4), len(data)}
	}
	for i := 0; i+1 < len(cuts); i++ {
		typ := cpg.PartialContinued
		switch {
		case i == 0:
			typ = cpg.PartialFirst
		case i+2 == len(cuts):
			typ = cpg.PartialLast
		}
		st := n.core.PartialMcast(cl.id, typ, uint32(len(data)), data[cuts[i]:cuts[i+1]])
		if st != cs.OK {
			return
		}
		if i+2 == len(cuts) {
			s.chk.accepted(cl, string(data), first)
		}
		// Fragments of one message may interleave with ring work.
		if s.rng.IntN(3) == 0 {
			s.drain(n)
			s.workStep()
			s.maybeHandover() // the sender's own message in progress too
		}
	}
}
