package cpgcheck

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpg"
)

// client is one simulated cpg connection and what it saw.
type client struct {
	node      uint32
	inc       int
	id        cpg.ConnID
	pid       uint32
	group     string // last group joined with CS_OK
	member    bool   // joined with CS_OK and not left with CS_OK since
	gone      bool
	finalized bool
	sent      int

	recs     []rec
	accepted []string        // messages the core accepted, in order
	exempt   map[string]bool // accepted messages its node's cpgd was detached for
	cutBy    []int           // per accepted message: for a fragmented one, the node's round count + 1 at its first fragment
	// For the per-client checks:
	view     *rec // last confchg seen for its current group
	lastKey  [2]uint64
	seen     bool
	lastFrom map[string]int // sender conn → last sequence delivered
}

func (cl *client) String() string {
	return fmt.Sprintf("node %d cpgd#%d conn %d pid %d", cl.node, cl.inc, cl.id, cl.pid)
}

// rec is one event a client saw.
type rec struct {
	view  string // confchg: the view's identity
	group string
	mem   []cpg.Address
	msg   string // delivered message (partial: "frag:" + data)
}

// trigger is what the node is processing: a ring position, or the
// activation of a ring (pos -1).
type trigger struct {
	ring      ring.ID
	pos       int
	activated bool // the node had activated ring before this position
}

// Checker records every client's events and checks CPG-level virtual
// synchrony, membership agreement across nodes and the final state.
type Checker struct {
	s          *Sim
	clients    []*client
	byKey      map[string]*client
	cur        map[uint32]trigger
	violations []string
	// Cut counts fragmented messages a sync round cut (withheld everywhere).
	Cut int

	views    map[string]string // delivery-triggered confchg → its content
	lists    map[string]string // (ring, pos) → process list of activated nodes
	segments map[string]string // (view, next view) → messages between
}

func newChecker(s *Sim) *Checker {
	return &Checker{s: s, byKey: map[string]*client{}, cur: map[uint32]trigger{},
		views: map[string]string{}, lists: map[string]string{}, segments: map[string]string{}}
}

func ckey(node uint32, inc int, id cpg.ConnID) string { return fmt.Sprintf("%d/%d/%d", node, inc, id) }

func (k *Checker) violate(format string, args ...any) {
	if len(k.violations) < 20 {
		k.violations = append(k.violations, fmt.Sprintf("step %d: ", k.s.step)+fmt.Sprintf(format, args...))
	}
}

func (k *Checker) failed() bool { return len(k.violations) > 0 }

// Violations returns what went wrong (nil when the run passed).
func (k *Checker) Violations() []string { return k.violations }

func (k *Checker) connected(cl *client) {
	cl.lastFrom = map[string]int{}
	k.clients = append(k.clients, cl)
	k.byKey[ckey(cl.node, cl.inc, cl.id)] = cl
}

func (k *Checker) gone(cl *client) { cl.gone = true }

// detached exempts from self delivery the client's accepted messages not
// delivered yet and not given back to the core (the ring has them; the
// client's own cpgd was away when they came by).
func (k *Checker) detached(cl *client, requeued map[string]bool) {
	got := map[string]bool{}
	for _, r := range cl.recs {
		got[r.msg] = true
		got[strings.TrimPrefix(r.msg, "whole:")] = true
	}
	if cl.exempt == nil {
		cl.exempt = map[string]bool{}
	}
	for _, m := range cl.accepted {
		if !got[m] && !requeued[m] {
			cl.exempt[m] = true
		}
	}
}
func (k *Checker) finalized(cl *client) { cl.finalized = true }
func (k *Checker) abort(*node)          {}

func (k *Checker) accepted(cl *client, msg string, roundsAtFirst int) {
	cl.accepted = append(cl.accepted, msg)
	cl.cutBy = append(cl.cutBy, roundsAtFirst)
}

// at sets the trigger of the events that follow on node n.
func (k *Checker) at(n *node, r ring.ID, pos int) {
	k.cur[n.id] = trigger{ring: r, pos: pos, activated: n.round == nil}
}

func addrs(as []cpg.Address) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "%d:%d:%d ", a.NodeID, a.PID, a.Reason)
	}
	return b.String()
}

// event routes one core event to its client and checks it.
func (k *Checker) event(n *node, e cpg.Event) {
	cl := k.byKey[ckey(n.id, n.inc, e.Target())]
	if cl == nil {
		k.violate("node %d: event %T for unknown connection %d", n.id, e, e.Target())
		return
	}
	if cl.finalized || cl.gone {
		k.violate("%v: event %T after finalize or disconnect", cl, e)
	}
	t := k.cur[n.id]
	switch e := e.(type) {
	case cpg.ConfChgEvent:
		k.s.Stats.Confchgs++
		k.confchg(n, cl, t, e)
	case cpg.DeliverEvent:
		k.s.Stats.Messages++
		k.message(cl, t, e.Group, e.NodeID, e.PID, string(e.Data), 0)
	case cpg.PartialDeliverEvent:
		k.s.Stats.Fragments++
		k.message(cl, t, e.Group, e.NodeID, e.PID, string(e.Data), e.Type)
		if e.Type == cpg.PartialLast {
			cl.recs = append(cl.recs, rec{msg: "whole:" + k.assemble(cl, e)})
		}
	case cpg.TotemConfChgEvent:
		// Nothing to check beyond routing.
	}
}

// assemble returns the message a LAST fragment completes, from the
// client's records (the fragments of one sender are contiguous in its
// stream of fragments from that sender).
func (k *Checker) assemble(cl *client, e cpg.PartialDeliverEvent) string {
	from := fmt.Sprintf("%d/%d", e.NodeID, e.PID)
	var parts []string
	for i := len(cl.recs) - 1; i >= 0; i-- {
		r := cl.recs[i]
		if !strings.HasPrefix(r.msg, "frag:"+from+":") {
			continue
		}
		body := strings.TrimPrefix(r.msg, "frag:"+from+":")
		typ, data, _ := strings.Cut(body, ":")
		parts = append([]string{data}, parts...)
		if typ == "1" {
			break
		}
	}
	whole := strings.Join(parts, "")
	if uint32(len(whole)) != e.MsgLen {
		k.violate("%v: fragments from %s add up to %d bytes, msglen %d", cl, from, len(whole), e.MsgLen)
	}
	return whole
}

func (k *Checker) message(cl *client, t trigger, group string, from, pid uint32, data string, typ cpg.PartialType) {
	if cl.view == nil || cl.view.group != group {
		k.violate("%v: message %q of group %q outside a view of it", cl, data, group)
	}
	key := [2]uint64{t.ring.Seq, uint64(t.pos)}
	// Replayed fragments share their join confchg's position.
	same := typ != 0 && key == cl.lastKey
	if t.pos < 0 || (cl.seen && !same && (key[0] < cl.lastKey[0] || (key[0] == cl.lastKey[0] && key[1] <= cl.lastKey[1]))) {
		k.violate("%v: message %q at %v/%d out of agreed order (last %v)", cl, data, t.ring, t.pos, cl.lastKey)
	}
	cl.lastKey, cl.seen = key, true
	if typ != 0 {
		cl.recs = append(cl.recs, rec{msg: fmt.Sprintf("frag:%d/%d:%d:%s", from, pid, typ, data)})
		return
	}
	// data is node/inc/conn/seq: FIFO and no duplicate per sender.
	parts := strings.Split(data, "/")
	if len(parts) == 4 {
		sender := strings.Join(parts[:3], "/")
		seq, _ := strconv.Atoi(parts[3])
		if seq <= cl.lastFrom[sender] {
			k.violate("%v: message %q after %s/%d (FIFO or duplicate)", cl, data, sender, cl.lastFrom[sender])
		}
		cl.lastFrom[sender] = seq
		if parts[0] != strconv.Itoa(int(from)) {
			k.violate("%v: message %q delivered as from node %d", cl, data, from)
		}
	}
	cl.recs = append(cl.recs, rec{msg: data})
	k.s.tracef("%v got %s at %v/%d", cl, data, t.ring, t.pos)
}

func self(cl *client) cpg.Address { return cpg.Address{NodeID: cl.node, PID: cl.pid} }

func hasAddr(as []cpg.Address, a cpg.Address) bool {
	return slices.ContainsFunc(as, func(b cpg.Address) bool { return b.NodeID == a.NodeID && b.PID == a.PID })
}

func (k *Checker) confchg(n *node, cl *client, t trigger, e cpg.ConfChgEvent) {
	// Members sorted by node then pid, no duplicates.
	for i := 1; i < len(e.Members); i++ {
		a, b := e.Members[i-1], e.Members[i]
		if a.NodeID > b.NodeID || (a.NodeID == b.NodeID && a.PID >= b.PID) {
			k.violate("%v: confchg members out of order: %s", cl, addrs(e.Members))
		}
	}
	if prev := cl.view; prev != nil && prev.group == e.Group {
		// The change applies exactly to the previous view.
		want := slices.DeleteFunc(slices.Clone(prev.mem), func(a cpg.Address) bool { return hasAddr(e.Left, a) })
		for _, a := range e.Left {
			if !hasAddr(prev.mem, a) {
				k.violate("%v: %q left %d:%d, not a member of %s", cl, e.Group, a.NodeID, a.PID, addrs(prev.mem))
			}
		}
		for _, a := range e.Joined {
			if hasAddr(prev.mem, a) {
				k.violate("%v: %q joined %d:%d, already a member", cl, e.Group, a.NodeID, a.PID)
			}
			want = append(want, cpg.Address{NodeID: a.NodeID, PID: a.PID})
		}
		slices.SortFunc(want, func(a, b cpg.Address) int {
			if a.NodeID != b.NodeID {
				return int(int64(a.NodeID) - int64(b.NodeID))
			}
			return int(int64(a.PID) - int64(b.PID))
		})
		if addrs(want) != addrs(e.Members) {
			k.violate("%v: %q members %s, but previous %s + joined %s - left %s", cl, e.Group, addrs(e.Members), addrs(prev.mem), addrs(e.Joined), addrs(e.Left))
		}
	} else if !hasAddr(e.Joined, self(cl)) || !hasAddr(e.Members, self(cl)) {
		k.violate("%v: first confchg of %q does not have it joining: members %s joined %s", cl, e.Group, addrs(e.Members), addrs(e.Joined))
	}
	content := addrs(e.Members) + "|" + addrs(e.Left) + "|" + addrs(e.Joined)
	id := fmt.Sprintf("%v@%d/%q/%s", t.ring, t.pos, e.Group, addrs(e.Members))
	if t.pos >= 0 && t.activated {
		vk := fmt.Sprintf("%v@%d/%q", t.ring, t.pos, e.Group)
		if old, ok := k.views[vk]; ok && old != content {
			k.violate("%v: confchg of %q at %v/%d is %s, another node saw %s", cl, e.Group, t.ring, t.pos, content, old)
		}
		k.views[vk] = content
	}
	// Virtual synchrony: the messages between two consecutive views.
	if prev := cl.view; prev != nil && prev.group == e.Group {
		var msgs []string
		for i := len(cl.recs) - 1; i >= 0 && cl.recs[i].view == ""; i-- {
			// Application-level messages: whole ones and completed
			// fragmented ones; fragments themselves may be replayed.
			if !strings.HasPrefix(cl.recs[i].msg, "frag:") {
				msgs = append(msgs, cl.recs[i].msg)
			}
		}
		slices.Reverse(msgs)
		seg := strings.Join(msgs, ",")
		sk := prev.view + " -> " + id
		if old, ok := k.segments[sk]; ok && old != seg {
			k.violate("virtual synchrony: %v saw [%s] between %s, another process saw [%s]", cl, seg, sk, old)
		}
		k.segments[sk] = seg
	}
	k.s.tracef("%v confchg %q at %v/%d members %s left %s joined %s", cl, e.Group, t.ring, t.pos, addrs(e.Members), addrs(e.Left), addrs(e.Joined))
	r := rec{view: id, group: e.Group, mem: slices.Clone(e.Members)}
	cl.recs = append(cl.recs, r)
	cl.view = &cl.recs[len(cl.recs)-1]
	if hasAddr(e.Left, self(cl)) {
		cl.view = nil // it left: a later join starts afresh
	}
}

// sortedList is a node's process list as a canonical string (3.1.7's list
// order among entries of one node and pid depends on history; per-group
// order does not).
func sortedList(c *cpg.Core) string {
	l := c.ProcessList()
	ss := make([]string, len(l))
	for i, e := range l {
		ss[i] = fmt.Sprintf("%d:%d:%q", e.NodeID, e.PID, e.Group)
	}
	slices.Sort(ss)
	return strings.Join(ss, " ")
}

// delivered checks, after a delivery, that every node that had activated
// the ring has the same process list at this position.
func (k *Checker) delivered(n *node, r ring.ID, pos int) {
	if n.round != nil {
		return
	}
	key := fmt.Sprintf("%v@%d", r, pos)
	l := sortedList(n.core)
	if old, ok := k.lists[key]; ok && old != l {
		k.violate("node %d process list after %s is [%s], another node had [%s]", n.id, key, l, old)
	}
	k.lists[key] = l
}

func (k *Checker) activated(n *node, rd cpg.Round) {
	key := fmt.Sprintf("%v@act", rd.Ring)
	l := sortedList(n.core)
	if old, ok := k.lists[key]; ok && old != l {
		k.violate("node %d process list after activating %v is [%s], another node had [%s]", n.id, rd.Ring, l, old)
	}
	k.lists[key] = l
	// Nobody in the list may sit on a node outside the round.
	for _, e := range n.core.ProcessList() {
		if !slices.Contains(rd.Members, e.NodeID) {
			k.violate("node %d: ghost member %d:%d of %q after activating %v with members %v", n.id, e.NodeID, e.PID, e.Group, rd.Ring, rd.Members)
		}
	}
}

// membership checks membership_get against the client's view: every
// change of the group's list reaches a joined client at once.
func (k *Checker) membership(n *node, cl *client) {
	if cl.view == nil || cl.finalized {
		return
	}
	if got := n.core.MembershipGet(cl.view.group); addrs(got) != addrs(cl.view.mem) {
		k.violate("%v: membership_get of %q is %s, its last confchg said %s", cl, cl.view.group, addrs(got), addrs(cl.view.mem))
	}
}

// final checks the settled cluster: one process list everywhere, equal to
// the processes that are joined, and every accepted message delivered to
// its sender.
func (k *Checker) final() {
	var want []string
	for _, cl := range k.clients {
		if !cl.gone && cl.member {
			want = append(want, fmt.Sprintf("%d:%d:%q", cl.node, cl.pid, cl.group))
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	ws := strings.Join(want, " ")
	for _, n := range k.s.nodes {
		if l := sortedList(n.core); l != ws {
			k.violate("final: node %d process list [%s], joined processes are [%s]", n.id, l, ws)
		}
	}
	for _, cl := range k.clients {
		if cl.gone || cl.finalized {
			continue
		}
		got := map[string]bool{}
		for _, r := range cl.recs {
			got[r.msg] = true
			got[strings.TrimPrefix(r.msg, "whole:")] = true
		}
		for i, m := range cl.accepted {
			if !got[m] && cl.cutBy[i] > 0 && k.s.node(cl.node).rounds >= cl.cutBy[i] {
				// A fragmented message cut by a sync round (documented).
				k.Cut++
				continue
			}
			if !got[m] && !cl.exempt[m] {
				k.violate("final: %v never got its own accepted message %q", cl, m)
			}
		}
		if cl.member && cl.view == nil {
			k.violate("final: %v joined %q but never saw its join", cl, cl.group)
		}
		if cl.member && cl.view != nil {
			var mem []cpg.Address
			for _, e := range k.s.node(cl.node).core.ProcessList() {
				if e.Group == cl.group {
					mem = append(mem, cpg.Address{NodeID: e.NodeID, PID: e.PID})
				}
			}
			if addrs(mem) != addrs(cl.view.mem) {
				k.violate("final: %v last saw %q as %s, the group is %s", cl, cl.group, addrs(cl.view.mem), addrs(mem))
			}
		}
	}
}
