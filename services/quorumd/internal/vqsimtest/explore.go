package vqsimtest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/needle-cluster/needle/services/quorumd/internal/vq"
)

// Why the comparison explores orderings
//
// vqsim has no sync barrier. Each simulated node, on the membership the
// controller sends it, runs sync_init, and 10 ms later, from its own
// timer, sync_process (which multicasts NODEINFO(us) and NODEINFO(0)) and
// at once sync_activate. The controller relays every multicast to the
// sender's whole partition the moment it reads it, so all members of a
// partition see the relayed messages in one order (the relay order), but
// each node's timer fires after however many of them it has already read:
// a node may send its NODEINFO, and activate, before or after it saw some
// of its peers' NODEINFO. What a node sends depends on that (its quorate
// flag and expected votes may already have changed), and so does what its
// peers decide (a NODEINFO with the quorate flag lowers an inquorate
// node's expected votes). corosync's own ring never does this within a
// round, but vqsim does, with votequorum's own code.
//
// So the oracle is not one model run: for every step the Explorer computes
// the exact set of outcomes vqsim's votequorum could reach, over every
// relay order of the round's multicasts and every point at which each
// node's timer can fire, and vqsim's settled state must be one of them.
// The states consistent with what vqsim showed are kept for the next step.
// Nothing is skipped because it disagrees: a state no ordering produces
// is a failure.
//
// Against vqsim the relay order is not explored but read (relay.go): the
// controller's reads, traced, are every message in relay order, so only
// the orderings that multicast exactly those messages are followed
// (ExploreRelayed), and only the timer points branch. That also compares
// what vqsim never prints: every NODEINFO a node sends carries its votes,
// expected votes and flags, and must be the one the core sends at that
// point (ErrRelays otherwise). Explore without relays still covers every
// order (TestExplorerContainsOrderings, TestExplorerBranches).
//
// What the orderings are, exactly (vqsim/vqmain.c and vqsim_vq_engine.c
// of 3.1.7):
//   - an existing node reads the new membership (sync_init), then the
//     relayed messages in relay order; its timer fires after it read k of
//     them, 0 <= k <= the number relayed before its own NODEINFO (which is
//     relayed only after it was sent);
//   - a node started by "up" multicast NODEINFO(us) from exec_init, then
//     ran its own one-node sync_init; its first timer fires either before
//     it reads the controller's membership (case 1: it sends and activates
//     alone, then runs the round like the others, sending again) or after
//     (case 2: it sends and activates once in the round, after k messages,
//     and activates again, without sending, after k2 >= k messages, from
//     the second timer); its start-up messages come first in its relay
//     queue;
//   - the messages one sync_process multicasts are relayed together. They
//     are NODEINFO(us) then NODEINFO(0); without a quorum device the
//     latter changes nothing (no record of node 0 changes, so votequorum
//     does not recalculate), so where it lands does not matter.
//
// Rounds of different partitions do not interact (the controller relays
// within the sender's partition), so a step's outcomes are the product of
// its rounds' outcomes. The controller waits until every node reported the
// step's membership and the messages landed (observe) before the next
// step, so rounds of successive steps do not overlap. vqsim starts no
// node by itself (Scenario.Boot): every node's start is a step.

// DefaultMaxOrders bounds the relay orders Explore (without vqsim's
// relays, which fix the order) explores in one round
// (Explorer.MaxOrders): a round whose bundles (one per node, two or three
// for a node started by "up") have more orders than this is not explored,
// and its scenario stops being compared at that step (counted as
// Unbounded). The bound is on the scenario's partition sizes, never on
// what vqsim shows: 120 is every order of five nodes, or of three beside
// a returning node. Six nodes (720 orders, each with its timer points)
// take half a second of CPU per round (the cores build no log lines for
// the explorer); at 720, 300 scenarios cost `make test` 2.7 more minutes
// of CPU for 6 % more steps, so `make vqsim` raises it and `make test`
// does not.
const DefaultMaxOrders = 120

// MaxWorkFactor bounds the relay orders one step explores over all its
// possible states, in MaxOrders: a step is explored in every state kept
// from the last (up to MaxWorlds), and at 720 orders a round six nodes
// in a few dozen states took minutes of CPU (seeds 471, 519 and 585 of
// `make vqsim` outlived their vqsim session). Beyond it the scenario
// stops (Unbounded), for a reason computed from the scenario alone.
const MaxWorkFactor = 8

// roundOrders is how many relay orders round r has.
func (e *Explorer) roundOrders(r round) int {
	n := len(e.parts[r.p])
	if r.newbie == 0 {
		return factorial(n)
	}
	// case 1: the newbie's three bundles keep their order
	return factorial(n+2) / 6
}

func factorial(n int) int {
	f := 1
	for i := 2; i <= n; i++ {
		f *= i
	}
	return f
}

// MaxWorlds bounds the distinct states kept for one scenario. A scenario
// whose orderings produce more is stopped (counted as Unbounded, never a
// pass or a failure): every kept state is explored again at every step,
// and at 4096 a few seeds in 2,000 (1427) took over ten minutes of CPU.
const MaxWorlds = 256

// bundle is the messages one call multicast, relayed together.
type bundle struct {
	from uint32
	msgs []vq.Message
	key  string
	// sig is msgs without the quorum device's NODEINFO (node 0): what a
	// bundle must match in vqsim's relays (see relevant).
	sig []vq.Message
}

func newBundle(from uint32, acts []vq.Action) bundle {
	b := bundle{from: from}
	var k strings.Builder
	fmt.Fprintf(&k, "%d:", from)
	for _, a := range acts {
		if mc, ok := a.(vq.Mcast); ok {
			b.msgs = append(b.msgs, mc.Msg)
			if relevant(mc.Msg) {
				b.sig = append(b.sig, mc.Msg)
			}
			fmt.Fprintf(&k, "%x,", vq.Encode(mc.Msg))
		}
	}
	b.key = k.String()
	return b
}

// relevant says whether a multicast is matched against vqsim's relays.
// The quorum device's NODEINFO (node 0) that every sync_process sends
// after the node's own changes nothing without a device (no scenario has
// one), and vqsim's controller, reading one message per poll callback,
// may relay another node's message between the two; so it is left out
// of the match on both sides, and the rest must match in relay order.
func relevant(m vq.Message) bool {
	ni, ok := m.(vq.NodeInfo)
	return !ok || ni.NodeID != 0
}

// relevantRelays is relays without the quorum device's NODEINFO.
func relevantRelays(relays []Relay) []Relay {
	var out []Relay
	for _, r := range relays {
		if relevant(r.Msg) {
			out = append(out, r)
		}
	}
	return out
}

// nodeState is one node's core at rest, with what vqsim shows of it.
type nodeState struct {
	snap     []byte
	quorate  bool
	members  []uint32
	deadline time.Duration // 0: no timer armed
	// recalc is the core's last recalculation: a snapshot does not
	// carry it, so a restored core that did not recalculate keeps the
	// one of the state it came from.
	recalc *vq.Recalc
}

// world is one possible state of every live node, at time at.
type world struct {
	at    time.Duration
	nodes map[uint32]nodeState
}

// ident tells states apart: the core's state and its last recalculation
// (orderings that end in the same core state may have recalculated last
// from different tables, and vqlog.go compares that too).
func (s nodeState) ident() string { return string(s.snap) + "\x00" + recalcText(s.recalc) }

func (w *world) key() string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(w.nodes)) {
		fmt.Fprintf(&b, "%d:%q;", id, w.nodes[id].ident())
	}
	return b.String()
}

// Explorer tracks every state vqsim's nodes can be in after each step.
type Explorer struct {
	cfgs   map[uint32]vq.Config
	parts  [maxPartitions][]uint32
	rings  [maxPartitions]vq.RingID
	part   map[uint32]int
	worlds []*world
	// Branched counts steps after which more than one outcome was
	// possible (before keeping those vqsim showed).
	Branched int
	// MaxOrders: see DefaultMaxOrders.
	MaxOrders int
	// Armed lists the deadlines of the timers the last Explore's rounds
	// armed (at the step's time), in every state and ordering, whatever
	// vqsim showed and whether or not they fired before the read: the
	// caller decides from them alone whether the read raced a timer.
	Armed []time.Duration
	// leaves counts the relay orders the last explore ran to their end
	// (with vqsim's relays: those that multicast exactly them).
	leaves int
	// unmatched lists (bounded) the multicasts that orderings would have
	// sent where vqsim relayed something else, for the failure message.
	unmatched []string
}

// noteSent records b as a multicast vqsim's relays did not show.
func (e *Explorer) noteSent(b bundle) {
	if len(e.unmatched) >= 24 {
		return
	}
	var l []string
	for _, m := range b.sig {
		l = append(l, Relay{From: b.from, Msg: m}.String())
	}
	d := strings.Join(l, " ")
	if !slices.Contains(e.unmatched, d) {
		e.unmatched = append(e.unmatched, d)
	}
}

// NewExplorer starts with no node running, as vqsim does on a nodelist
// without ring0_addr (an error is the configuration error the core
// reports).
func NewExplorer(sc Scenario) (*Explorer, error) {
	m, err := NewModel(sc, false) // validates the configuration, numbers the rings
	if err != nil {
		return nil, err
	}
	e := &Explorer{cfgs: map[uint32]vq.Config{}, rings: m.rings, part: map[uint32]int{}, MaxOrders: DefaultMaxOrders,
		worlds: []*world{{nodes: map[uint32]nodeState{}}}}
	for _, id := range sc.F.IDs {
		cfg, err := vq.ConfigFromKeys(m.keys, id)
		if err != nil {
			return nil, err
		}
		cfg.LogLevel = hclog.Off // the explorer never reads the cores' logs
		e.cfgs[id] = cfg
	}
	return e, nil
}

// stateOf is c at rest; prev is the state c was restored from (zero for
// a new core).
func stateOf(c *vq.Core, prev nodeState) (nodeState, error) {
	b, err := c.Snapshot()
	if err != nil {
		return nodeState{}, fmt.Errorf("node %d: %w", c.NodeID(), err)
	}
	d, _ := c.NextDeadline()
	s := nodeState{snap: b, quorate: c.Quorate(), members: c.Members(), deadline: d, recalc: c.LastRecalc()}
	if s.recalc == nil {
		s.recalc = prev.recalc
	}
	return s, nil
}

func noMcast(id uint32, what string, acts []vq.Action) error {
	for _, a := range acts {
		if _, ok := a.(vq.Mcast); ok {
			return fmt.Errorf("node %d: %s multicast %T (vqsim scenarios have no quorum device)", id, what, a)
		}
	}
	return nil
}

// saved is the Explorer's possible states, to explore a step again
// (Explore builds new states; it changes none of the old).
type saved struct {
	worlds   []*world
	branched int
}

func (e *Explorer) save() saved { return saved{slices.Clone(e.worlds), e.Branched} }

func (e *Explorer) restore(s saved) { e.worlds, e.Branched = s.worlds, s.branched }

// Worlds is how many states are still possible.
func (e *Explorer) Worlds() int { return len(e.worlds) }

// Deadlines lists every armed timer of every possible state.
func (e *Explorer) Deadlines() []time.Duration {
	var out []time.Duration
	for _, w := range e.worlds {
		for _, n := range w.nodes {
			if n.deadline > 0 {
				out = append(out, n.deadline)
			}
		}
	}
	return out
}

// Advance moves every state's clock to now, firing the timers due.
func (e *Explorer) Advance(now time.Duration) error {
	for _, w := range e.worlds {
		if now <= w.at {
			continue
		}
		for id, n := range w.nodes {
			s, err := e.advanced(id, n, w.at, now)
			if err != nil {
				return err
			}
			w.nodes[id] = s
		}
		w.at = now
	}
	e.dedupe()
	return nil
}

func (e *Explorer) dedupe() {
	seen := map[string]bool{}
	e.worlds = slices.DeleteFunc(e.worlds, func(w *world) bool {
		k := w.key()
		if seen[k] {
			return true
		}
		seen[k] = true
		return false
	})
}

// Want is the partition and membership every live node must report
// after the step (the same in every state).
func (e *Explorer) Want() map[uint32]NodeView {
	v := map[uint32]NodeView{}
	for p, ms := range e.parts {
		for _, id := range ms {
			v[id] = NodeView{Part: p, Members: slices.Clone(ms)}
		}
	}
	return v
}

type round struct {
	p      int
	newbie uint32 // started by "up" in this round, 0 if none
}

// Plan applies a step's membership change (the same in every state) and
// returns the sync rounds it starts.
func (e *Explorer) Plan(st Step) ([]round, error) {
	var rounds []round
	bump := func(p int) {
		e.rings[p].Seq += 4
		if len(e.parts[p]) > 0 {
			e.rings[p].NodeID = e.parts[p][0]
		}
	}
	switch st.Kind {
	case "move", "join":
		if st.Kind == "move" {
			for _, id := range st.Nodes {
				old := e.part[id]
				e.parts[old] = slices.DeleteFunc(e.parts[old], func(x uint32) bool { return x == id })
				e.parts[st.Part] = append(e.parts[st.Part], id)
				e.part[id] = st.Part
			}
		} else {
			for _, id := range e.parts[st.Other] {
				e.part[id] = st.Part
			}
			e.parts[st.Part] = append(e.parts[st.Part], e.parts[st.Other]...)
			e.parts[st.Other] = nil
		}
		for p := range e.parts {
			bump(p)
			if len(e.parts[p]) > 0 {
				rounds = append(rounds, round{p: p})
			}
		}
	case "down":
		id := st.Nodes[0]
		p := e.part[id]
		e.parts[p] = slices.DeleteFunc(e.parts[p], func(x uint32) bool { return x == id })
		delete(e.part, id)
		for _, w := range e.worlds {
			delete(w.nodes, id)
		}
		bump(p)
		if len(e.parts[p]) > 0 {
			rounds = append(rounds, round{p: p})
		}
	case "up":
		id, p := st.Nodes[0], st.Part
		e.parts[p] = append(e.parts[p], id)
		e.part[id] = p
		bump(p)
		rounds = append(rounds, round{p: p, newbie: id})
	case "wait":
	default:
		return nil, fmt.Errorf("explorer: step kind %q", st.Kind)
	}
	e.dedupe()
	return rounds, nil
}

// Explore runs the rounds in every state (whose clocks are at the step's
// time), moves the clocks to show (when vqsim was read) and keeps the
// outcomes that show what vqsim showed: partition, view list and quorate
// decision of every node. It reports whether any is left, and if none,
// what each node could have decided, for the failure message.
func (e *Explorer) Explore(rounds []round, shown map[uint32]NodeView, show time.Duration) (bool, string, error) {
	return e.explore(rounds, shown, nil, show)
}

// ExploreRelayed is Explore keeping only the orderings whose multicasts,
// in relay order per partition, are exactly relays (what vqsim's
// controller relayed in the step, Session.Relayed): every NODEINFO vqsim's
// nodes sent, with its votes, expected votes and flags, must be one the
// cores send at that point of that order.
func (e *Explorer) ExploreRelayed(rounds []round, shown map[uint32]NodeView, relays []Relay, show time.Duration) (bool, string, error) {
	byPart := map[int][]Relay{}
	for _, r := range relevantRelays(relays) {
		p, ok := e.part[r.From]
		if !ok {
			return false, "", fmt.Errorf("%w: vqsim relayed %v from a node that is not up", ErrRelays, r)
		}
		byPart[p] = append(byPart[p], r)
	}
	for p, rs := range byPart {
		if !slices.ContainsFunc(rounds, func(r round) bool { return r.p == p }) {
			return false, "", fmt.Errorf("%w: vqsim relayed %v in partition %d, which ran no sync round", ErrRelays, rs, p)
		}
	}
	return e.explore(rounds, shown, byPart, show)
}

// explore is Explore; relays, when not nil, are each partition's relayed
// messages the rounds' orderings must produce (ExploreRelayed).
func (e *Explorer) explore(rounds []round, shown map[uint32]NodeView, relays map[int][]Relay, show time.Duration) (bool, string, error) {
	match := func(id uint32, s nodeState) bool {
		v, ok := shown[id]
		return ok && v.Part == e.part[id] && v.Quorate == s.quorate && slices.Equal(v.Members, s.members) &&
			v.Recalc != nil && sameRecalc(v.Recalc, s.recalc)
	}
	possible := map[uint32]map[bool]bool{}
	// recalcs: each node's possible last recalculations, where its
	// decision was vqsim's (bounded, for the failure message)
	recalcs := map[uint32][]string{}
	note := func(id uint32, s nodeState) {
		if possible[id] == nil {
			possible[id] = map[bool]bool{}
		}
		possible[id][s.quorate] = true
		if v, ok := shown[id]; ok && v.Quorate == s.quorate && len(recalcs[id]) < 4 {
			if t := recalcText(s.recalc); !slices.Contains(recalcs[id], t) {
				recalcs[id] = append(recalcs[id], t)
			}
		}
	}
	// With vqsim's relays the relay order is the one observed and only
	// the timer points branch, so the order bounds apply without them.
	if relays == nil {
		work := 0
		for _, r := range rounds {
			o := e.roundOrders(r)
			if o > e.MaxOrders {
				return false, "", errUnbounded
			}
			work += o
		}
		// every state runs the rounds: bound the orders explored in all
		if work*len(e.worlds) > MaxWorkFactor*e.MaxOrders {
			return false, "", errUnbounded
		}
	}
	var next []*world
	seen := map[string]bool{}
	e.Armed = nil
	e.unmatched = nil
	e.leaves = 0
	for _, w := range e.worlds {
		inRound := map[uint32]bool{}
		for _, r := range rounds {
			for _, id := range e.parts[r.p] {
				inRound[id] = true
			}
		}
		// the nodes no round touches: their clocks move to show
		rest := map[uint32]nodeState{}
		restOK := true
		for id, n := range w.nodes {
			if inRound[id] {
				continue
			}
			s, err := e.advanced(id, n, w.at, show)
			if err != nil {
				return false, "", err
			}
			note(id, s)
			restOK = restOK && match(id, s)
			rest[id] = s
		}
		// a state whose untouched nodes differ from vqsim's still runs
		// its rounds, for Armed, but keeps no outcome
		acc := []map[uint32]nodeState{rest}
		for _, r := range rounds {
			var obs []Relay
			if relays != nil {
				obs = relays[r.p]
				if obs == nil {
					obs = []Relay{}
				}
			}
			outs, err := e.round(w, r, show, obs, func(id uint32, s nodeState) bool { note(id, s); return restOK && match(id, s) })
			if err != nil {
				return false, "", err
			}
			var prod []map[uint32]nodeState
			for _, a := range acc {
				for _, o := range outs {
					m := maps.Clone(a)
					maps.Copy(m, o)
					prod = append(prod, m)
				}
			}
			if len(prod) > MaxWorlds {
				return false, "", errUnbounded
			}
			acc = prod
		}
		for _, m := range acc {
			nw := &world{at: show, nodes: m}
			if k := nw.key(); !seen[k] {
				seen[k] = true
				next = append(next, nw)
			}
		}
		if len(next) > MaxWorlds {
			return false, "", errUnbounded
		}
	}
	if relays != nil && len(rounds) > 0 && e.leaves == 0 {
		// no order of any state multicasts what vqsim's nodes did: that
		// is a disagreement whatever vqsim shows, and reading vqsim
		// again cannot change it (every node sent its NODEINFO before it
		// reported the step's membership)
		var rs []string
		for _, p := range slices.Sorted(maps.Keys(relays)) {
			for _, r := range relays[p] {
				rs = append(rs, r.String())
			}
		}
		return false, "", fmt.Errorf("%w: vqsim relayed [%s]; where the orderings differed they multicast [%s]",
			ErrRelays, strings.Join(rs, " "), strings.Join(e.unmatched, "; "))
	}
	for _, p := range possible {
		if len(p) > 1 {
			e.Branched++
			break
		}
	}
	if len(next) == 0 {
		var l []string
		for _, id := range slices.Sorted(maps.Keys(possible)) {
			var qs []string
			for _, q := range []bool{false, true} {
				if possible[id][q] {
					qs = append(qs, fmt.Sprint(q))
				}
			}
			l = append(l, fmt.Sprintf("%d: q=%s", id, strings.Join(qs, "|")))
			if v, ok := shown[id]; ok && possible[id][v.Quorate] && !slices.Contains(recalcs[id], recalcText(v.Recalc)) {
				l = append(l, fmt.Sprintf("%d: recalculations where q=%v: %s", id, v.Quorate, strings.Join(recalcs[id], " | ")))
			}
		}
		return false, "each node's possible decisions: " + strings.Join(l, ", "), nil
	}
	e.worlds = next
	return true, "", nil
}

// advanced is node id's state n (taken at at) with its clock at now.
func (e *Explorer) advanced(id uint32, n nodeState, at, now time.Duration) (nodeState, error) {
	if n.deadline == 0 || now <= at {
		return n, nil
	}
	c, err := vq.Restore(e.cfgs[id], n.snap, at)
	if err != nil {
		return nodeState{}, fmt.Errorf("node %d: %w", id, err)
	}
	if err := noMcast(id, "a timer", c.Advance(now)); err != nil {
		return nodeState{}, err
	}
	return stateOf(c, n)
}

// ErrRelays: no ordering of the step's rounds, in any possible state,
// multicasts exactly the messages vqsim's controller relayed (a node's
// votes, expected votes or flags differ from every state's, or a message
// is missing or extra).
var ErrRelays = errors.New("no ordering of vqsim's sync rounds multicasts what its nodes did")

var errUnbounded = fmt.Errorf("more relay orders in a round than MaxOrders, or more than %d possible states", MaxWorlds)

func viewKey(w *world) string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(w.nodes)) {
		fmt.Fprintf(&b, "%d:q=%v ", id, w.nodes[id].quorate)
	}
	return b.String()
}

// round returns the outcomes of one partition's sync round in world w
// (the new states of the partition's nodes, their clocks moved on to
// show) in which every node's state passes keep.
//
// obs, when not nil, is the partition's relayed messages (relevant ones
// only): an ordering whose multicasts differ from them is not followed.
func (e *Explorer) round(w *world, r round, show time.Duration, obs []Relay, keep func(uint32, nodeState) bool) ([]map[uint32]nodeState, error) {
	members := slices.Clone(e.parts[r.p])
	// pos is how many of obs the relay order so far has matched.
	pos := 0
	fits := func(b bundle) bool {
		if obs == nil {
			return true
		}
		if pos+len(b.sig) > len(obs) {
			e.noteSent(b)
			return false
		}
		for i, m := range b.sig {
			if obs[pos+i].From != b.from || obs[pos+i].Msg != m {
				e.noteSent(b)
				return false
			}
		}
		return true
	}
	ring := e.rings[r.p]
	at := w.at
	var err error
	fail := func(e2 error) {
		if err == nil {
			err = e2
		}
	}
	deliver := func(c *vq.Core, seq []bundle) {
		for _, b := range seq {
			for _, m := range b.msgs {
				acts, e2 := c.DeliverMessage(b.from, m)
				if e2 != nil {
					fail(fmt.Errorf("node %d: %w", c.NodeID(), e2))
					return
				}
				if e2 := noMcast(c.NodeID(), "a delivery", acts); e2 != nil {
					fail(e2)
				}
			}
		}
	}
	// start runs a node up to its round's sync_init; for the newbie also
	// its start-up bundles (NODEINFO from exec_init; in case 1 its alone
	// sync_process).
	start := func(id uint32, case1 bool) (*vq.Core, []bundle) {
		if id != r.newbie {
			c, e2 := vq.Restore(e.cfgs[id], w.nodes[id].snap, at)
			if e2 != nil {
				fail(fmt.Errorf("node %d: %w", id, e2))
				return nil, nil
			}
			if e2 := noMcast(id, "sync_init", c.SyncInit(slices.Clone(members), ring)); e2 != nil {
				fail(e2)
			}
			return c, nil
		}
		c, acts, e2 := vq.New(e.cfgs[id])
		if e2 != nil {
			fail(fmt.Errorf("node %d: %w", id, e2))
			return nil, nil
		}
		c.Advance(at)
		pre := []bundle{newBundle(id, acts)}
		c.SyncInit([]uint32{id}, vq.RingID{NodeID: id, Seq: 1})
		if case1 {
			_, acts := c.SyncProcess()
			pre = append(pre, newBundle(id, acts))
			c.SyncActivate()
		}
		c.SyncInit(slices.Clone(members), ring)
		return c, pre
	}
	prefixKey := func(seq []bundle) string {
		var b strings.Builder
		for _, x := range seq {
			b.WriteString(x.key)
			b.WriteByte('|')
		}
		return b.String()
	}
	// content: what node id multicasts from its round's sync_process when
	// its timer fires after it read seq.
	memo := map[string]bundle{}
	content := func(id uint32, case1 bool, seq []bundle) bundle {
		k := fmt.Sprint(id, case1, prefixKey(seq))
		if b, ok := memo[k]; ok {
			return b
		}
		c, _ := start(id, case1)
		if c == nil {
			return bundle{}
		}
		deliver(c, seq)
		_, acts := c.SyncProcess()
		b := newBundle(id, acts)
		memo[k] = b
		return b
	}
	// final: the node's state after the whole relay order seq, its timer
	// having fired after k messages (and, newbie case 2, its second one
	// after k2).
	final := func(id uint32, case1 bool, seq []bundle, k, k2 int) (nodeState, bool) {
		c, _ := start(id, case1)
		if c == nil {
			return nodeState{}, false
		}
		deliver(c, seq[:k])
		c.SyncProcess()
		c.SyncActivate()
		if id == r.newbie && !case1 {
			deliver(c, seq[k:k2])
			c.SyncActivate()
			k = k2
		}
		deliver(c, seq[k:])
		if d, ok := c.NextDeadline(); ok && d > 0 && !slices.Contains(e.Armed, d) {
			e.Armed = append(e.Armed, d)
		}
		if e2 := noMcast(id, "a timer", c.Advance(show)); e2 != nil {
			fail(e2)
			return nodeState{}, false
		}
		s, e2 := stateOf(c, w.nodes[id])
		if e2 != nil {
			fail(e2)
			return nodeState{}, false
		}
		return s, true
	}

	outs := map[string]map[uint32]nodeState{}
	cases := []bool{false}
	if r.newbie != 0 {
		cases = []bool{true, false}
	}
	for _, case1 := range cases {
		// pending start-up bundles per node, then its round's bundle
		pending := map[uint32][]bundle{}
		if r.newbie != 0 {
			_, pre := start(r.newbie, case1)
			pending[r.newbie] = pre
		}
		done := map[uint32]bool{}
		ks := map[uint32][]int{}
		var seq []bundle
		var dfs func()
		dfs = func() {
			if err != nil || len(outs) > MaxWorlds {
				return
			}
			progressed := false
			for _, id := range members {
				if len(pending[id]) > 0 {
					progressed = true
					b := pending[id][0]
					if !fits(b) {
						continue
					}
					pending[id] = pending[id][1:]
					seq = append(seq, b)
					pos += len(b.sig)
					dfs()
					pos -= len(b.sig)
					seq = seq[:len(seq)-1]
					pending[id] = append([]bundle{b}, pending[id]...)
					continue
				}
				if done[id] {
					continue
				}
				progressed = true
				// its timer fires after k of the messages relayed so far
				groups := map[string][]int{}
				var order []string
				byKey := map[string]bundle{}
				for k := 0; k <= len(seq); k++ {
					b := content(id, case1, seq[:k])
					if _, ok := groups[b.key]; !ok {
						order = append(order, b.key)
						byKey[b.key] = b
					}
					groups[b.key] = append(groups[b.key], k)
				}
				done[id] = true
				for _, bk := range order {
					b := byKey[bk]
					if !fits(b) {
						continue
					}
					ks[id] = groups[bk]
					seq = append(seq, b)
					pos += len(b.sig)
					dfs()
					pos -= len(b.sig)
					seq = seq[:len(seq)-1]
				}
				delete(ks, id)
				done[id] = false
			}
			if progressed {
				return
			}
			if obs != nil && pos != len(obs) {
				return // vqsim relayed more than this order multicast
			}
			e.leaves++
			// every bundle relayed: each node's possible end states
			// (every member's end states are computed, even once one
			// member has none vqsim could show, for Armed)
			per := make([][]nodeState, len(members))
			for i, id := range members {
				seenSnap := map[string]bool{}
				for _, k := range ks[id] {
					k2s := []int{k}
					if id == r.newbie && !case1 {
						k2s = nil
						for k2 := k; k2 <= len(seq); k2++ {
							k2s = append(k2s, k2)
						}
					}
					for _, k2 := range k2s {
						s, ok := final(id, case1, seq, k, k2)
						if !ok {
							return
						}
						if k := s.ident(); !seenSnap[k] {
							seenSnap[k] = true
							if keep(id, s) {
								per[i] = append(per[i], s)
							}
						}
					}
				}
			}
			combos := []map[uint32]nodeState{{}}
			for i, id := range members {
				var nc []map[uint32]nodeState
				for _, c := range combos {
					for _, s := range per[i] {
						m := maps.Clone(c)
						m[id] = s
						nc = append(nc, m)
					}
				}
				combos = nc
			}
			for _, c := range combos {
				tmp := world{nodes: c}
				outs[tmp.key()] = c
			}
		}
		dfs()
		if err != nil {
			return nil, err
		}
		if len(outs) > MaxWorlds {
			return nil, errUnbounded
		}
	}
	return slices.Collect(maps.Values(outs)), nil
}
