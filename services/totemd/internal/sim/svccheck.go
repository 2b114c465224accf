package sim

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// Kinds of the service checker.
const (
	KindBus          Kind = "bus-contract"  // a stack broke libs/ipcproto's contract towards a daemon
	KindService      Kind = "service-view"  // daemons of one service saw one view differently
	KindServiceLeave Kind = "service-leave" // a node seen to leave a service more often than its daemon's sessions ended (a handover seen as a detach)
)

// SvcChecker checks what the service daemons of a whole-node run saw, one
// incarnation (bus session) at a time:
//
//   - each incarnation's stream keeps the contract: configuration changes
//     in Transitional/Regular pairs, each sync_init closed by exactly one
//     activate or abort of its round, deliveries of its own service only,
//     no message delivered twice, every ordinary multicast acked OK
//     delivered back to it by the end;
//   - every incarnation of a service, on every node, sees the same
//     sequence of deliveries and sync outcomes in each service view (a
//     view is what a configuration change or the attach installs: ring,
//     type, service members and ring members). An incarnation may see
//     only a window of a view (it attached or ended inside it), so what
//     two incarnations both saw of a view must be one run of consecutive
//     items in each, in the same order. Sync outcomes count only between
//     incarnations that both take part in the view's round (takesPart).
//   - at the end, no incarnation still attached has a sync round open:
//     every round completes or aborts (a round waiting for a parked
//     daemon completes once its successor resumes).
//   - a session handed over to a successor process (Park, Resumed) is one
//     incarnation: the successor carries the predecessor's record on, so
//     every rule above holds across the handover (nothing lost,
//     duplicated or reordered, the same sequence as every other node's).
//   - a node is never seen to leave a service inside the ring more often
//     than its daemon's sessions of the service ended (Detach): each
//     leave (a node in Left of a Transitional change while it stays
//     among the ring members) is counted once, named by its ring and its
//     ordinal among the ring's service-only changes, by the daemons that
//     saw the ring from its first Regular change. A session handed over
//     does not end, so a handover the other nodes see as a detach and an
//     attach breaks this; when the grace ends without a successor, the
//     session is detached (Detach) and its node's leave is due. (The
//     leave and join a node shows after a new daemon attached belong to
//     the daemon it replaced and to the new one: service changes are
//     queued in agreed order and may come seconds after the session
//     events, so the count, not the timing, is checked.)
type SvcChecker struct {
	violations []Violation
	total      int
	limit      int
	incs       []*SvcIncarnation
	// ends counts the sessions of each node's daemon of a service that
	// ended, leaves (leaveCount by node) the distinct service-only
	// changes seen in which it left; parkedBy are its sessions that
	// parked for a handover (for the report).
	ends       map[svcNode]int
	leaves     map[svcLeave]bool
	leaveCount map[svcNode]int
	parkedBy   map[svcNode][]*SvcIncarnation
}

// svcLeave names a node's leave of a service: the ring and the ordinal
// of the service-only change in that ring.
type svcLeave struct {
	svcNode
	ring ring.ID
	ord  int
}

type svcNode struct {
	node srp.NodeID
	svc  uint16
}

// SvcIncarnation is what one daemon incarnation saw.
type SvcIncarnation struct {
	Node srp.NodeID
	Svc  uint16
	Inc  uint32
	Up   bool

	segs     []*svcSegment
	cur      *svcSegment
	lastType ring.ConfType
	hasLast  bool     // lastType is set: a change came since the attach (Transitional is ConfType 0)
	round    uint64   // the open round's id, 0 when none
	roundAt  srp.Time // when it opened (its sync_init)
	accepted []svcItem
	// streams is what was delivered of each sender stream: its ids, and
	// the last one (a daemon's stream is delivered in the order it made
	// it: ipcproto's pipelining rule).
	streams map[streamKey]*streamSeen
	// Handovers: successors that resumed the session; parks: parks.
	Handovers, parks int
	// svcOrd counts the service-only changes seen in each ring;
	// ringFull: o saw the ring from its first Regular change (so svcOrd
	// is the ordinal every daemon of the service gives a change);
	// regRing is the ring of its last Regular view (or the attach's).
	svcOrd   map[ring.ID]int
	ringFull map[ring.ID]bool
	regRing  ring.ID
}

// svcView identifies a service view.
type svcView struct {
	ring    ring.ID
	typ     ring.ConfType
	members string
	ringMem string
}

// svcSegment is what an incarnation saw in one view.
type svcSegment struct {
	view    svcView
	partial bool // entered by the attach, not by a configuration change
	inRound bool // it takes part in the view's sync round (see takesPart), so the round's outcomes are items to compare
	items   []svcItem
	syncs   int // sync items so far, for their ordinals
}

// svcItem is one thing a daemon saw inside a view: a delivery (by who
// sent it) or a sync outcome (by its ordinal in the view and what it said).
type svcItem struct {
	kind   uint8 // itemDeliver, itemSync
	node   uint32
	svc    uint16
	inc    uint16
	sync   bool
	id     uint64
	detail string
}

const (
	itemDeliver uint8 = iota + 1
	itemSync
)

func (it svcItem) String() string {
	if it.kind == itemSync {
		return it.detail
	}
	return fmt.Sprintf("n%d/%d#%d/%d(sync=%v)", it.node, it.svc, it.inc, it.id, it.sync)
}

// NewSvcChecker returns an empty checker.
func NewSvcChecker() *SvcChecker { return &SvcChecker{limit: DefaultViolationLimit} }

// Violations are the first violations found.
func (c *SvcChecker) Violations() []Violation { return c.violations }

// Total is the number of violations found.
func (c *SvcChecker) Total() int { return c.total }

func (c *SvcChecker) report(kind Kind, at srp.Time, node srp.NodeID, format string, args ...any) {
	c.total++
	if len(c.violations) < c.limit {
		c.violations = append(c.violations, Violation{Kind: kind, At: at, Node: node, Detail: fmt.Sprintf(format, args...)})
	}
}

// Attach begins an incarnation.
func (c *SvcChecker) Attach(node srp.NodeID, svc uint16, inc uint32, _ srp.Time) *SvcIncarnation {
	o := &SvcIncarnation{Node: node, Svc: svc, Inc: inc, Up: true, streams: map[streamKey]*streamSeen{}}
	c.incs = append(c.incs, o)
	return o
}

// Detach ends an incarnation: the session ended (detached, crashed, lost
// with its totemd, or detached when a handover's grace ended).
func (c *SvcChecker) Detach(o *SvcIncarnation, _ srp.Time) {
	if o.Up {
		if c.ends == nil {
			c.ends = map[svcNode]int{}
		}
		c.ends[svcNode{o.Node, o.Svc}]++
	}
	o.Up = false
}

// Park records that incarnation o's daemon parked to hand its session
// over: the session does not end (no Detach) unless the grace ends
// first, so its node may not be seen to leave the service for it.
func (c *SvcChecker) Park(o *SvcIncarnation, _ srp.Time) {
	if c.parkedBy == nil {
		c.parkedBy = map[svcNode][]*SvcIncarnation{}
	}
	k := svcNode{o.Node, o.Svc}
	if o.parks == 0 {
		c.parkedBy[k] = append(c.parkedBy[k], o)
	}
	o.parks++
}

// Resumed records that a successor process resumed o's session: it
// carries o's record on.
func (c *SvcChecker) Resumed(o *SvcIncarnation, _ srp.Time) { o.Handovers++ }

// serviceChange takes what a Transitional change cc says of the nodes
// that left o's service, before o enters its view: a change inside o's
// current Regular ring (cc carries that ring's id) is a service-only
// change, the ordinal-th o saw in that ring. When o saw the ring from
// its first Regular change (ringFull), the ordinal names the change for
// every daemon of the service (they all see one sequence of changes in
// the ring), and each node in its Left that stays among its ring members
// left the service: each such leave needs a session of its daemon that
// ended (Detach) before.
func (c *SvcChecker) serviceChange(o *SvcIncarnation, now srp.Time, cc *ring.ConfChg) {
	if cc.Type != ring.Transitional || o.cur.view.typ != ring.Regular || cc.Ring != o.cur.view.ring {
		return
	}
	if o.svcOrd == nil {
		o.svcOrd = map[ring.ID]int{}
	}
	o.svcOrd[cc.Ring]++
	if !o.ringFull[cc.Ring] {
		return
	}
	for _, n := range cc.Left {
		if !slices.Contains(cc.RingMembers, n) {
			continue
		}
		k := svcNode{srp.NodeID(n), o.Svc}
		lk := svcLeave{k, cc.Ring, o.svcOrd[cc.Ring]}
		if c.leaves[lk] {
			continue
		}
		if c.leaves == nil {
			c.leaves, c.leaveCount = map[svcLeave]bool{}, map[svcNode]int{}
		}
		c.leaves[lk] = true
		c.leaveCount[k]++
		if c.leaveCount[k] > c.ends[k] {
			var parked []string
			for _, h := range c.parkedBy[k] {
				parked = append(parked, fmt.Sprintf("%s parked %d times, resumed %d, up=%v", h.name(), h.parks, h.Handovers, h.Up))
			}
			c.report(KindServiceLeave, now, o.Node, "%s: n%d left the service (change %d of ring %x.%x, members %v): %d leaves of n%d seen, but only %d of its sessions of the service ended (handovers: %v)",
				o.name(), n, lk.ord, cc.Ring.Rep, cc.Ring.Seq, cc.Members, c.leaveCount[k], n, c.ends[k], parked)
		}
	}
}

// RoundClosed checks at the end that o, still attached, has no sync
// round open for longer than bound: a round the run's end cuts short is
// no fault (on rings of dozens of nodes with daemons coming and going,
// rounds follow one another to the last moment), one stuck that long is.
func (c *SvcChecker) RoundClosed(o *SvcIncarnation, now srp.Time, bound time.Duration) {
	if o.round != 0 && now-o.roundAt > bound {
		c.report(KindLiveness, now, o.Node, "%s: sync round %d still open at the end, %v after it began (parked %d times, %d resumed)",
			o.name(), o.round, now-o.roundAt, o.parks, o.Handovers)
	}
}

func (o *SvcIncarnation) name() string { return fmt.Sprintf("service %d #%d", o.Svc, o.Inc) }

// Attached takes the KindAttached answer: the view the incarnation starts
// in, entered part way.
func (c *SvcChecker) Attached(o *SvcIncarnation, now srp.Time, m *ipcproto.Msg) {
	if o.cur != nil || m.Ring == nil {
		c.report(KindBus, now, o.Node, "%s: a second or ringless KindAttached", o.name())
		return
	}
	o.hasLast = false // the attach may come between a Transitional and a Regular change
	o.regRing = *m.Ring
	o.enter(svcView{ring: *m.Ring, typ: ring.Regular, members: fmt.Sprint(m.Members), ringMem: fmt.Sprint(m.RingMembers)}, true, false)
}

func (o *SvcIncarnation) enter(v svcView, partial, inRound bool) {
	o.cur = &svcSegment{view: v, partial: partial, inRound: inRound}
	o.segs = append(o.segs, o.cur)
}

// takesPart says whether incarnation o, entering the view of change cc,
// takes part in that view's sync round, before o.lastType is updated.
// Which daemon a node initialises is local (its daemon of the moment),
// not agreed, so sync outcomes are compared only between incarnations
// that both take part:
//
//   - A Transitional view holds at most the abort of the round the
//     change interrupts, and only an incarnation with that round open
//     gets it.
//   - A Regular view's round is initialised on each node, for the daemon
//     attached there, when the change begins: a full round at Totem's
//     regular configuration, which srp delivers in the same step as the
//     transitional one (syncengine's startFull fixes its local services
//     then); a service round at its two changes, emitted together
//     (syncengine's startPending). So the incarnation takes part exactly
//     when it saw this pair's Transitional change (it was attached when
//     the round began) and its node is in the view's service membership.
//     A daemon attaching between the two changes is not in the round
//     even when the Regular view lists its node: the view is agreed
//     state, in which its node still counts as attached through the
//     daemon it replaced (that daemon's detach and its own attach are
//     queued service changes, each with its own round, after this one);
//     until its first activation its ordinary multicasts are refused
//     (stack's gate), so it sees the view's deliveries, which are still
//     compared, but none of the round's outcomes.
func (o *SvcIncarnation) takesPart(cc *ring.ConfChg) bool {
	if cc.Type == ring.Transitional {
		return o.round != 0
	}
	return o.hasLast && o.lastType == ring.Transitional && slices.Contains(cc.Members, uint32(o.Node))
}

// ConfChg takes a configuration change.
func (c *SvcChecker) ConfChg(o *SvcIncarnation, now srp.Time, cc *ring.ConfChg) {
	if o.cur == nil || cc == nil {
		c.report(KindBus, now, o.Node, "%s: a configuration change before KindAttached", o.name())
		return
	}
	if o.hasLast && cc.Type == o.lastType {
		c.report(KindBus, now, o.Node, "%s: two %v configuration changes in a row (ring %x.%x members %v)",
			o.name(), cc.Type, cc.Ring.Rep, cc.Ring.Seq, cc.Members)
	}
	if !sortedUnique32(cc.Members) || !sortedUnique32(cc.RingMembers) {
		c.report(KindBus, now, o.Node, "%s: members %v / ring members %v not sorted", o.name(), cc.Members, cc.RingMembers)
	}
	// As in corosync 3.1.7 (the services' confchg, then sync_abort), the
	// abort of a round a ring change interrupts may follow the
	// Transitional change; by the Regular one the round is closed.
	if cc.Type == ring.Regular && o.round != 0 {
		c.report(KindBus, now, o.Node, "%s: round %d still open at a regular change", o.name(), o.round)
	}
	c.serviceChange(o, now, cc)
	if cc.Type == ring.Regular && cc.Ring != o.regRing {
		if o.ringFull == nil {
			o.ringFull = map[ring.ID]bool{}
		}
		o.ringFull[cc.Ring] = true // a ring change: o sees every service-only change of the new ring
	}
	if cc.Type == ring.Regular {
		o.regRing = cc.Ring
	}
	inRound := o.takesPart(cc)
	o.lastType, o.hasLast = cc.Type, true
	o.enter(svcView{ring: cc.Ring, typ: cc.Type, members: fmt.Sprint(cc.Members), ringMem: fmt.Sprint(cc.RingMembers)}, false, inRound)
}

// Deliver takes a delivery.
func (c *SvcChecker) Deliver(o *SvcIncarnation, now srp.Time, from uint32, payload []byte) {
	if o.cur == nil {
		c.report(KindBus, now, o.Node, "%s: a delivery before KindAttached", o.name())
		return
	}
	it, err := decodeSvcItem(payload)
	switch {
	case err != nil:
		c.report(KindCorrupt, now, o.Node, "%s: delivery from n%d: %v", o.name(), from, err)
		return
	case it.svc != o.Svc:
		c.report(KindBus, now, o.Node, "%s: delivered %v, a message of service %d", o.name(), it, it.svc)
		return
	case it.node != from:
		c.report(KindCorrupt, now, o.Node, "%s: %v delivered as from n%d", o.name(), it, from)
	case o.delivered(it):
		c.report(KindDuplicate, now, o.Node, "%s: %v delivered twice", o.name(), it)
		return
	}
	if seq := sentInRing(payload); seq > o.regRing.Seq {
		c.report(KindBus, now, o.Node, "%s: %v, sent in ring seq %x, delivered before that ring's Regular change (last %x)",
			o.name(), it, seq, o.regRing.Seq)
	}
	st := o.streams[keyOf(it)]
	if st == nil {
		st = &streamSeen{}
		o.streams[keyOf(it)] = st
	}
	if it.id <= st.last {
		c.report(KindOrder, now, o.Node, "%s: %v delivered after id %d of its stream", o.name(), it, st.last)
	}
	st.last = it.id
	st.add(it.id)
	o.cur.items = append(o.cur.items, it)
}

// streamKey names a sender stream: one daemon incarnation's ordinary or
// sync messages.
type streamKey struct {
	node     uint32
	svc, inc uint16
	sync     bool
}

func keyOf(it svcItem) streamKey {
	return streamKey{node: it.node, svc: it.svc, inc: it.inc, sync: it.sync}
}

// streamSeen is what one incarnation delivered of a sender stream. A
// daemon numbers a stream's messages 1, 2, 3…, so the ids are a bitset;
// only a corrupt key goes beyond it. (A map of every delivered item was a
// sixth of the whole-node simulator's time.)
type streamSeen struct {
	last uint64
	bits []uint64
	far  map[uint64]bool // ids of maxStreamBit and above
}

const maxStreamBit = 1 << 22

func (s *streamSeen) has(id uint64) bool {
	if id >= maxStreamBit {
		return s.far[id]
	}
	w := int(id / 64)
	return w < len(s.bits) && s.bits[w]&(1<<(id%64)) != 0
}

func (s *streamSeen) add(id uint64) {
	if id >= maxStreamBit {
		if s.far == nil {
			s.far = map[uint64]bool{}
		}
		s.far[id] = true
		return
	}
	w := int(id / 64)
	for len(s.bits) <= w {
		s.bits = append(s.bits, 0)
	}
	s.bits[w] |= 1 << (id % 64)
}

// delivered says whether o delivered it.
func (o *SvcIncarnation) delivered(it svcItem) bool {
	st := o.streams[keyOf(it)]
	return st != nil && st.has(it.id)
}

// svcKeyLen is the length of a simulated daemon's message behind the
// exec header: node, service, incarnation, id, sync flag, and the ring of
// the sender's last Regular view (not part of the key).
const svcKeyLen = 4 + 2 + 2 + 8 + 8 + 8

// sentInRing is the ring seq a simulated daemon's message was sent in.
func sentInRing(b []byte) uint64 { return binary.BigEndian.Uint64(b[16+svcKeyLen-8:]) }

// decodeSvcItem reads the sender key a simulated daemon puts behind the
// exec header (daemon.go's newMsg).
func decodeSvcItem(b []byte) (svcItem, error) {
	h, err := pg.DecodeExecHeader(b, false)
	if err != nil {
		return svcItem{}, err
	}
	if len(b) != 16+svcKeyLen {
		return svcItem{}, fmt.Errorf("%d bytes, want %d", len(b), 16+svcKeyLen)
	}
	k := b[16:]
	it := svcItem{kind: itemDeliver, node: binary.BigEndian.Uint32(k), svc: binary.BigEndian.Uint16(k[4:]),
		inc: binary.BigEndian.Uint16(k[6:]), id: binary.BigEndian.Uint64(k[8:]), sync: binary.BigEndian.Uint64(k[16:]) == 1}
	if it.svc != h.Service {
		return svcItem{}, fmt.Errorf("key of service %d behind a header of service %d", it.svc, h.Service)
	}
	return it, nil
}

// SyncStep takes a sync step: the round's contract, and its init,
// activate or abort as an item of the view (process is local timing and
// no item).
func (c *SvcChecker) SyncStep(o *SvcIncarnation, now srp.Time, m *ipcproto.Msg) {
	if o.cur == nil {
		c.report(KindBus, now, o.Node, "%s: %s before KindAttached", o.name(), m.Kind)
		return
	}
	var detail string
	switch m.Kind {
	case ipcproto.KindSyncInit:
		if o.round != 0 {
			c.report(KindBus, now, o.Node, "%s: sync_init %d while round %d is open", o.name(), m.ID, o.round)
		}
		o.round, o.roundAt = m.ID, now
		detail = fmt.Sprintf("init(%v trans=%v members=%v)", m.SyncKind, m.Trans, m.Members)
	case ipcproto.KindSyncProcess:
		if o.round != m.ID {
			c.report(KindBus, now, o.Node, "%s: sync_process %d in round %d", o.name(), m.ID, o.round)
		}
		return
	case ipcproto.KindSyncActivate, ipcproto.KindSyncAbort:
		if o.round != m.ID {
			c.report(KindBus, now, o.Node, "%s: %s %d closes round %d", o.name(), m.Kind, m.ID, o.round)
		}
		o.round = 0
		detail = "abort"
		if m.Kind == ipcproto.KindSyncActivate {
			detail = fmt.Sprintf("activate(%v members=%v)", m.SyncKind, m.Members)
		}
	}
	o.cur.syncs++
	if o.cur.partial {
		return // its ordinal in the view is unknown
	}
	o.cur.items = append(o.cur.items, svcItem{kind: itemSync, svc: o.Svc, id: uint64(o.cur.syncs),
		detail: fmt.Sprintf("#%d %s", o.cur.syncs, detail)})
}

// Accepted records an ordinary multicast acked OK to o.
func (c *SvcChecker) Accepted(o *SvcIncarnation, payload []byte) {
	if it, err := decodeSvcItem(payload); err == nil {
		o.accepted = append(o.accepted, it)
	}
}

// undelivered counts the ordinary multicasts o got OKs for and has not
// delivered yet, and names the first of them.
func (o *SvcIncarnation) undelivered() (n int, first svcItem) {
	for _, it := range o.accepted {
		if !o.delivered(it) {
			if n == 0 {
				first = it
			}
			n++
		}
	}
	return n, first
}

// SelfDelivered checks at the end that o delivered what it got OKs for.
func (c *SvcChecker) SelfDelivered(o *SvcIncarnation, now srp.Time) {
	if missing, first := o.undelivered(); missing > 0 {
		c.report(KindSelfDelivery, now, o.Node, "%s: %d of its %d accepted multicasts never delivered back, first %v",
			o.name(), missing, len(o.accepted), first)
	}
}

// Finish compares what the incarnations of each service saw in each
// view. A view's key (ring, type, members) can come back within a ring
// (a daemon detaches and attaches again), so the records of one key are
// first grouped into occurrences: records that share a delivery (each is
// delivered at one point of the agreed order) are of one occurrence.
// Each record of an occurrence is then compared with its longest.
func (c *SvcChecker) Finish(now srp.Time) {
	type key struct {
		svc  uint16
		view svcView
	}
	byView := map[key][]*svcSegment{}
	owner := map[*svcSegment]*SvcIncarnation{}
	var order []key
	for _, o := range c.incs {
		for _, sg := range o.segs {
			k := key{o.Svc, sg.view}
			if _, ok := byView[k]; !ok {
				order = append(order, k)
			}
			byView[k] = append(byView[k], sg)
			owner[sg] = o
		}
	}
	for _, k := range order {
		for _, group := range occurrences(byView[k]) {
			ref := group[0]
			for _, sg := range group[1:] {
				if len(sg.items) > len(ref.items) {
					ref = sg
				}
			}
			// the reference's positions, all items and deliveries only,
			// built once for the group
			var refPos [2]map[svcItem]int
			for _, sg := range group {
				if sg == ref {
					continue
				}
				// A record entered by the attach has no sync outcomes
				// (their ordinals are unknown there), and an incarnation
				// outside the view's round sees none of its outcomes
				// (takesPart): then compare deliveries only.
				all := !sg.partial && !ref.partial && sg.inRound && ref.inRound
				v := 0
				if all {
					v = 1
				}
				if refPos[v] == nil {
					refPos[v] = positions(filterItems(ref.items, all))
				}
				if msg := window(filterItems(sg.items, all), refPos[v]); msg != "" {
					o, r := owner[sg], owner[ref]
					c.report(KindService, now, o.Node, "%s in view %x.%x %v members %s: %s (against n%d %s)",
						o.name(), k.view.ring.Rep, k.view.ring.Seq, k.view.typ, k.view.members, msg, r.Node, r.name())
				}
			}
		}
	}
}

// filterItems is items, or with all false only their deliveries.
func filterItems(items []svcItem, all bool) []svcItem {
	if all {
		return items
	}
	out := make([]svcItem, 0, len(items))
	for _, it := range items {
		if it.kind == itemDeliver {
			out = append(out, it)
		}
	}
	return out
}

// positions maps each item to its index.
func positions(items []svcItem) map[svcItem]int {
	pos := make(map[svcItem]int, len(items))
	for i, it := range items {
		pos[it] = i
	}
	return pos
}

// occurrences groups records of one view key that share a delivery
// (union-find over the deliveries); records without deliveries are left
// out: nothing places them.
func occurrences(segs []*svcSegment) [][]*svcSegment {
	parent := make([]int, len(segs))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	seen := map[svcItem]int{}
	for i, sg := range segs {
		for _, it := range sg.items {
			if it.kind != itemDeliver {
				continue
			}
			if j, ok := seen[it]; ok {
				parent[find(i)] = find(j)
			} else {
				seen[it] = i
			}
		}
	}
	byRoot := map[int][]*svcSegment{}
	var roots []int
	for i, sg := range segs {
		if !slices.ContainsFunc(sg.items, func(it svcItem) bool { return it.kind == itemDeliver }) {
			continue
		}
		r := find(i)
		if _, ok := byRoot[r]; !ok {
			roots = append(roots, r)
		}
		byRoot[r] = append(byRoot[r], sg)
	}
	out := make([][]*svcSegment, 0, len(roots))
	for _, r := range roots {
		out = append(out, byRoot[r])
	}
	return out
}

// window says how items differ from one run of consecutive items of the
// reference (its positions pos), "" when they do not: between the first
// and the last item both saw, each must have seen exactly what the other
// did, in the same order.
func window(items []svcItem, pos map[svcItem]int) string {
	prev := -1
	var extra *svcItem // seen here after a shared item, not by the reference
	for i, it := range items {
		p, ok := pos[it]
		if !ok {
			if prev >= 0 && extra == nil {
				extra = &items[i]
			}
			continue
		}
		if prev >= 0 {
			switch {
			case p <= prev:
				return fmt.Sprintf("%v after %v, in the other order elsewhere", it, itemAt(pos, prev))
			case p != prev+1:
				return fmt.Sprintf("%v follows %v, but %d items came between them elsewhere (first %v)",
					it, itemAt(pos, prev), p-prev-1, itemAt(pos, prev+1))
			case extra != nil:
				return fmt.Sprintf("%v came between %v and %v, which came one after the other elsewhere",
					*extra, itemAt(pos, prev), it)
			}
		}
		prev = p
	}
	return ""
}

// itemAt finds the reference's item at position p (for messages only).
func itemAt(pos map[svcItem]int, p int) svcItem {
	for it, q := range pos {
		if q == p {
			return it
		}
	}
	return svcItem{}
}

func sortedUnique32(s []uint32) bool {
	return slices.IsSorted(s) && len(slices.Compact(slices.Clone(s))) == len(s)
}
