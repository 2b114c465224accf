package sim

import (
	"fmt"
	"slices"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// Checker records what every node incarnation was asked to send and what it
// delivered, checks each delivery as it happens (corruption, invention,
// duplicates, configuration shape and agreement), and checks the properties
// that need whole histories (order, virtual synchrony, transitional sets,
// self-delivery) in Finish. It knows nothing about the network or the core:
// tests feed it hand-built histories.
type Checker struct {
	incs     []*Incarnation
	incCount map[srp.NodeID]uint32
	byID     map[incKey]*Incarnation
	sent     map[MsgID]sentRec
	// rings maps each installed regular ring to the members its first
	// installer saw and every (incarnation, epoch) that installed it.
	rings map[srp.RingID]*ringRec
	// msgRing is the ring in which each message was first delivered.
	msgRing map[MsgID]srp.RingID
	// trans maps (previous ring, new ring) to the first transitional
	// member list seen for it.
	trans map[[2]srp.RingID][]srp.NodeID

	violations []Violation
	total      int // all violations, including those not kept
	limit      int
}

type incKey struct {
	node srp.NodeID
	num  uint32
}

type sentRec struct {
	sum  uint64
	size int
	at   srp.Time
}

type ringRec struct {
	members   []srp.NodeID
	firstNode srp.NodeID
	installs  []install
}

type install struct {
	inc   *Incarnation
	epoch int
}

// Incarnation is one life of a node, from a start to a crash or leave. Its
// deliveries are split into epochs, one per regular configuration.
type Incarnation struct {
	Node  srp.NodeID
	Num   uint32 // 1 for a node's first start
	Alive bool

	epochs    []*epoch
	delivered map[MsgID]struct{}
	accepted  []MsgID
	rings     map[srp.RingID]int // installed ring → epoch index
}

// epoch is what an incarnation delivered while one regular configuration
// (nil before the first) was its latest, including the messages delivered
// after the transitional configuration that ends it.
type epoch struct {
	reg      *srp.ConfChange
	trans    *srp.ConfChange // transitional configuration closing the epoch
	msgs     []MsgID
	nRegular int // msgs[:nRegular] came before trans
}

// DefaultViolationLimit bounds how many violations a checker keeps (it still
// counts all of them).
const DefaultViolationLimit = 64

// NewChecker returns an empty checker.
func NewChecker() *Checker {
	return &Checker{
		incCount: map[srp.NodeID]uint32{},
		byID:     map[incKey]*Incarnation{},
		sent:     map[MsgID]sentRec{},
		rings:    map[srp.RingID]*ringRec{},
		msgRing:  map[MsgID]srp.RingID{},
		trans:    map[[2]srp.RingID][]srp.NodeID{},
		limit:    DefaultViolationLimit,
	}
}

// Violations returns the violations kept so far.
func (c *Checker) Violations() []Violation { return c.violations }

// Total is the number of violations found, kept or not.
func (c *Checker) Total() int { return c.total }

// Report records a violation found outside the checker (liveness, core errors).
func (c *Checker) Report(v Violation) {
	c.total++
	if len(c.violations) < c.limit {
		c.violations = append(c.violations, v)
	}
}

func (c *Checker) report(kind Kind, at srp.Time, node srp.NodeID, format string, args ...any) {
	c.Report(Violation{Kind: kind, At: at, Node: node, Detail: fmt.Sprintf(format, args...)})
}

// Start begins a new incarnation of node and returns it; its Num numbers the
// node's starts from 1.
func (c *Checker) Start(node srp.NodeID) *Incarnation {
	c.incCount[node]++
	inc := &Incarnation{
		Node:      node,
		Num:       c.incCount[node],
		Alive:     true,
		epochs:    []*epoch{{}},
		delivered: map[MsgID]struct{}{},
		rings:     map[srp.RingID]int{},
	}
	c.incs = append(c.incs, inc)
	c.byID[incKey{node, inc.Num}] = inc
	return inc
}

// Stop ends an incarnation (crash or leave): nothing more is expected of it.
func (c *Checker) Stop(inc *Incarnation) { inc.Alive = false }

// Accepted records that inc's Mcast accepted payload (built by
// EncodePayload) at time now.
func (c *Checker) Accepted(inc *Incarnation, now srp.Time, payload []byte) {
	id, sum, err := DecodePayload(payload)
	if err != nil {
		c.report(KindCore, now, inc.Node, "simulator sent an undecodable payload: %v", err)
		return
	}
	if _, dup := c.sent[id]; dup {
		c.report(KindCore, now, inc.Node, "simulator reused message id %v", id)
		return
	}
	c.sent[id] = sentRec{sum: sum, size: len(payload), at: now}
	inc.accepted = append(inc.accepted, id)
}

// AcceptedAt is when id was accepted; ok is false for unknown ids.
func (c *Checker) AcceptedAt(id MsgID) (at srp.Time, ok bool) {
	r, ok := c.sent[id]
	return r.at, ok
}

// Deliver checks and records one delivery of inc.
func (c *Checker) Deliver(inc *Incarnation, now srp.Time, d srp.Delivery) {
	if d.Conf != nil {
		c.deliverConf(inc, now, d.Conf)
		return
	}
	id, sum, err := DecodePayload(d.Payload)
	if err != nil {
		c.report(KindCorrupt, now, inc.Node, "message from n%d: %v", d.From, err)
		return
	}
	rec, ok := c.sent[id]
	switch {
	case !ok:
		c.report(KindInvented, now, inc.Node, "message %v from n%d was never accepted by any Mcast", id, d.From)
		return
	case rec.sum != sum || rec.size != len(d.Payload):
		c.report(KindCorrupt, now, inc.Node, "message %v differs from what was sent (%d bytes, sum %016x; sent %d bytes, sum %016x)",
			id, len(d.Payload), sum, rec.size, rec.sum)
		return
	case d.From != id.Node():
		c.report(KindCorrupt, now, inc.Node, "message %v delivered as from n%d", id, d.From)
	case d.Swapped:
		c.report(KindCorrupt, now, inc.Node, "message %v flagged byte-swapped between same-endian nodes", id)
	}
	if _, dup := inc.delivered[id]; dup {
		c.report(KindDuplicate, now, inc.Node, "message %v delivered a second time", id)
		return
	}
	inc.delivered[id] = struct{}{}
	ep := inc.epochs[len(inc.epochs)-1]
	if ep.reg == nil {
		c.report(KindConfSequence, now, inc.Node, "message %v delivered before any regular configuration", id)
		return
	}
	ring := ep.reg.Ring
	if first, ok := c.msgRing[id]; !ok {
		c.msgRing[id] = ring
	} else if first != ring {
		c.report(KindAgreement, now, inc.Node, "message %v delivered in ring %s here but in ring %s elsewhere",
			id, fmtRing(ring), fmtRing(first))
	}
	if !slices.Contains(ep.reg.Members, id.Node()) {
		c.report(KindAgreement, now, inc.Node, "message %v delivered in ring %s whose members %v do not include its sender",
			id, fmtRing(ring), ep.reg.Members)
	} else if origin := c.incarnation(id.Node(), id.Inc()); origin != nil {
		if _, ok := origin.rings[ring]; !ok {
			c.report(KindAgreement, now, inc.Node, "message %v delivered in ring %s, which its sender's incarnation never installed",
				id, fmtRing(ring))
		}
	}
	ep.msgs = append(ep.msgs, id)
}

// incarnation finds a node's incarnation by number.
func (c *Checker) incarnation(node srp.NodeID, num uint32) *Incarnation {
	return c.byID[incKey{node, num}]
}

func (c *Checker) deliverConf(inc *Incarnation, now srp.Time, cc *srp.ConfChange) {
	conf := cloneConf(cc)
	if !sortedUnique(conf.Members) {
		c.report(KindConfSequence, now, inc.Node, "%s members %v not sorted and unique", confName(conf), conf.Members)
	}
	ep := inc.epochs[len(inc.epochs)-1]
	if conf.Type == srp.Transitional {
		c.deliverTrans(inc, now, ep, conf)
		return
	}
	c.deliverRegular(inc, now, ep, conf)
}

func (c *Checker) deliverTrans(inc *Incarnation, now srp.Time, ep *epoch, conf *srp.ConfChange) {
	if ep.trans != nil {
		c.report(KindConfSequence, now, inc.Node, "second transitional configuration (ring %s) without a regular one between", fmtRing(conf.Ring))
	}
	ep.trans = conf
	ep.nRegular = len(ep.msgs)
	if ep.reg == nil {
		// The first transitional configuration of a fresh node has no old
		// ring behind it: at most the node itself.
		if !subset(conf.Members, []srp.NodeID{inc.Node}) {
			c.report(KindTransitional, now, inc.Node, "first transitional configuration %v lists nodes other than itself", conf.Members)
		}
		return
	}
	if !slices.Contains(conf.Members, inc.Node) {
		c.report(KindTransitional, now, inc.Node, "transitional configuration %v leaves out the node itself", conf.Members)
	}
	if !subset(conf.Members, ep.reg.Members) {
		c.report(KindTransitional, now, inc.Node, "transitional members %v not all in the old regular configuration %v (ring %s)",
			conf.Members, ep.reg.Members, fmtRing(ep.reg.Ring))
	}
	if left := minus(ep.reg.Members, conf.Members); !slices.Equal(sortedCopy(conf.Left), left) {
		c.report(KindTransitional, now, inc.Node, "transitional left list %v, want old %v minus transitional %v = %v",
			conf.Left, ep.reg.Members, conf.Members, left)
	}
}

func (c *Checker) deliverRegular(inc *Incarnation, now srp.Time, ep *epoch, conf *srp.ConfChange) {
	ring := conf.Ring
	if !slices.Contains(conf.Members, inc.Node) {
		c.report(KindMembership, now, inc.Node, "regular configuration %s members %v leave out the node itself", fmtRing(ring), conf.Members)
	}
	if len(conf.Members) > 0 && ring.Rep != conf.Members[0] {
		c.report(KindMembership, now, inc.Node, "ring %s representative is not its lowest member (members %v)", fmtRing(ring), conf.Members)
	}
	if ep.reg != nil && ring.Seq <= ep.reg.Ring.Seq {
		c.report(KindConfSequence, now, inc.Node, "ring seq went from %s to %s", fmtRing(ep.reg.Ring), fmtRing(ring))
	}
	if _, again := inc.rings[ring]; again {
		c.report(KindConfSequence, now, inc.Node, "ring %s installed twice", fmtRing(ring))
	}
	trans := ep.trans
	if trans == nil {
		c.report(KindConfSequence, now, inc.Node, "regular configuration %s without a transitional one before it", fmtRing(ring))
	} else {
		if trans.Ring != ring {
			c.report(KindConfSequence, now, inc.Node, "transitional configuration names ring %s, regular %s", fmtRing(trans.Ring), fmtRing(ring))
		}
		if !subset(trans.Members, conf.Members) {
			c.report(KindTransitional, now, inc.Node, "transitional members %v not all in the new ring %s %v",
				trans.Members, fmtRing(ring), conf.Members)
		}
		if joined := minus(conf.Members, trans.Members); !slices.Equal(sortedCopy(conf.Joined), joined) {
			c.report(KindMembership, now, inc.Node, "ring %s joined list %v, want members %v minus transitional %v = %v",
				fmtRing(ring), conf.Joined, conf.Members, trans.Members, joined)
		}
		if ep.reg != nil {
			key := [2]srp.RingID{ep.reg.Ring, ring}
			if first, ok := c.trans[key]; !ok {
				c.trans[key] = trans.Members
			} else if !slices.Equal(first, trans.Members) {
				c.report(KindTransitional, now, inc.Node, "transitional configuration %s→%s is %v here but %v elsewhere",
					fmtRing(ep.reg.Ring), fmtRing(ring), trans.Members, first)
			}
		}
	}
	rec := c.rings[ring]
	if rec == nil {
		rec = &ringRec{members: conf.Members, firstNode: inc.Node}
		c.rings[ring] = rec
	} else if !slices.Equal(rec.members, conf.Members) {
		c.report(KindMembership, now, inc.Node, "ring %s has members %v here but %v on n%d",
			fmtRing(ring), conf.Members, rec.members, rec.firstNode)
	}
	inc.epochs = append(inc.epochs, &epoch{reg: conf})
	inc.rings[ring] = len(inc.epochs) - 1
	rec.installs = append(rec.installs, install{inc: inc, epoch: len(inc.epochs) - 1})
}

// Current is the latest regular configuration inc installed, or nil.
func (inc *Incarnation) Current() *srp.ConfChange {
	return inc.epochs[len(inc.epochs)-1].reg
}

// DeliveredInCurrent is the number of messages inc delivered since it
// installed its latest regular configuration.
func (inc *Incarnation) DeliveredInCurrent() int {
	return len(inc.epochs[len(inc.epochs)-1].msgs)
}

// HasDelivered reports whether inc delivered id.
func (inc *Incarnation) HasDelivered(id MsgID) bool {
	_, ok := inc.delivered[id]
	return ok
}

// Accepted lists the message ids inc's Mcast accepted, in order.
func (inc *Incarnation) Accepted() []MsgID { return inc.accepted }

func confName(cc *srp.ConfChange) string {
	if cc.Type == srp.Transitional {
		return "transitional configuration " + fmtRing(cc.Ring)
	}
	return "regular configuration " + fmtRing(cc.Ring)
}

func cloneConf(cc *srp.ConfChange) *srp.ConfChange {
	return &srp.ConfChange{
		Type:    cc.Type,
		Ring:    cc.Ring,
		Members: slices.Clone(cc.Members),
		Left:    slices.Clone(cc.Left),
		Joined:  slices.Clone(cc.Joined),
	}
}

func sortedUnique(s []srp.NodeID) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

func sortedCopy(s []srp.NodeID) []srp.NodeID {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		s = []srp.NodeID{}
	}
	return s
}

// subset reports whether every element of a is in b.
func subset(a, b []srp.NodeID) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// minus returns the sorted elements of a that are not in b.
func minus(a, b []srp.NodeID) []srp.NodeID {
	out := []srp.NodeID{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}
