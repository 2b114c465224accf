package sim

import (
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// hist builds delivery histories by hand for the checker.
type hist struct {
	t        *testing.T
	c        *Checker
	inc      map[srp.NodeID]*Incarnation
	prev     map[srp.NodeID][]srp.NodeID // members of the last regular configuration
	payloads map[MsgID][]byte
	fill     []byte
	now      srp.Time
}

func newHist(t *testing.T, nodes ...srp.NodeID) *hist {
	h := &hist{t: t, c: NewChecker(), inc: map[srp.NodeID]*Incarnation{}, prev: map[srp.NodeID][]srp.NodeID{},
		payloads: map[MsgID][]byte{}, fill: make([]byte, MaxPayload)}
	for i := range h.fill {
		h.fill[i] = byte(i * 7)
	}
	for _, n := range nodes {
		h.inc[n] = h.c.Start(n)
	}
	return h
}

func (h *hist) tick() srp.Time { h.now += time.Millisecond; return h.now }

// send makes node's Mcast accept a new message and returns its id.
func (h *hist) send(node srp.NodeID) MsgID {
	inc := h.inc[node]
	id := NewMsgID(node, inc.Num, uint32(len(inc.accepted)+1))
	p := EncodePayload(id, MinPayload+int(id.Seq())*3, h.fill)
	h.payloads[id] = p
	h.c.Accepted(inc, h.tick(), p)
	return id
}

func (h *hist) deliver(node srp.NodeID, ids ...MsgID) {
	for _, id := range ids {
		h.c.Deliver(h.inc[node], h.tick(), srp.Delivery{From: id.Node(), Payload: h.payloads[id]})
	}
}

func (h *hist) deliverRaw(node srp.NodeID, d srp.Delivery) { h.c.Deliver(h.inc[node], h.tick(), d) }

// install delivers a transitional then a regular configuration with
// consistent left and joined lists.
func (h *hist) install(node srp.NodeID, ring srp.RingID, members, trans []srp.NodeID) {
	h.installTrans(node, ring, trans)
	h.installRegular(node, ring, members, trans)
}

func (h *hist) installTrans(node srp.NodeID, ring srp.RingID, trans []srp.NodeID) {
	left := minus(h.prev[node], trans)
	h.deliverRaw(node, srp.Delivery{Conf: &srp.ConfChange{Type: srp.Transitional, Ring: ring, Members: trans, Left: left}})
}

func (h *hist) installRegular(node srp.NodeID, ring srp.RingID, members, trans []srp.NodeID) {
	h.deliverRaw(node, srp.Delivery{Conf: &srp.ConfChange{Type: srp.Regular, Ring: ring, Members: members, Joined: minus(members, trans)}})
	h.prev[node] = members
}

func ids(n ...srp.NodeID) []srp.NodeID { return n }

func kindsOf(vs []Violation) []Kind {
	var out []Kind
	for _, v := range vs {
		if !slices.Contains(out, v.Kind) {
			out = append(out, v.Kind)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

var (
	ringA = srp.RingID{Rep: 1, Seq: 8}
	ringB = srp.RingID{Rep: 1, Seq: 12}
)

// formABC puts nodes 1–3, fresh, on ringA.
func formABC(h *hist) {
	for _, n := range ids(1, 2, 3) {
		h.install(n, ringA, ids(1, 2, 3), nil)
	}
}

func TestCheckerHistories(t *testing.T) {
	tests := []struct {
		name      string
		quiescent bool
		build     func(h *hist)
		want      []Kind
	}{
		{"clean run", true, func(h *hist) {
			formABC(h)
			a, b, c := h.send(1), h.send(2), h.send(3)
			for _, n := range ids(1, 2, 3) {
				h.deliver(n, a, b, c)
			}
			// Node 3 leaves; 1 and 2 go on together, 3 alone.
			d := h.send(1)
			h.deliver(1, d)
			h.deliver(2, d)
			h.install(1, ringB, ids(1, 2), ids(1, 2))
			h.install(2, ringB, ids(1, 2), ids(1, 2))
			h.install(3, srp.RingID{Rep: 3, Seq: 12}, ids(3), ids(3))
			e := h.send(2)
			h.deliver(1, e)
			h.deliver(2, e)
		}, nil},
		{"reordered delivery", false, func(h *hist) {
			formABC(h)
			a, b := h.send(1), h.send(2)
			h.deliver(1, a, b)
			h.deliver(2, b, a)
		}, []Kind{KindOrder}},
		{"order cycle over three nodes", false, func(h *hist) {
			formABC(h)
			a, b, c := h.send(1), h.send(2), h.send(3)
			h.deliver(1, a, b)
			h.deliver(2, b, c)
			h.deliver(3, c, a)
		}, []Kind{KindOrder}},
		{"duplicate", false, func(h *hist) {
			formABC(h)
			a := h.send(1)
			h.deliver(1, a, a)
		}, []Kind{KindDuplicate}},
		{"invented", false, func(h *hist) {
			formABC(h)
			ghost := NewMsgID(2, 1, 99)
			h.deliverRaw(1, srp.Delivery{From: 2, Payload: EncodePayload(ghost, 60, h.fill)})
		}, []Kind{KindInvented}},
		{"corrupted byte", false, func(h *hist) {
			formABC(h)
			a := h.send(1)
			p := slices.Clone(h.payloads[a])
			p[len(p)/2] ^= 0x40
			h.deliverRaw(2, srp.Delivery{From: 1, Payload: p})
		}, []Kind{KindCorrupt}},
		{"wrong sender", false, func(h *hist) {
			formABC(h)
			a := h.send(1)
			h.deliverRaw(2, srp.Delivery{From: 3, Payload: h.payloads[a]})
		}, []Kind{KindCorrupt}},
		{"same two configurations, message missing on one", false, func(h *hist) {
			formABC(h)
			a, b := h.send(1), h.send(3)
			h.deliver(1, a, b)
			h.deliver(2, a)
			h.deliver(3, a, b)
			for _, n := range ids(1, 2) {
				h.install(n, ringB, ids(1, 2), ids(1, 2))
			}
		}, []Kind{KindSynchrony}},
		{"disagreeing membership", false, func(h *hist) {
			formABC(h)
			h.install(1, ringB, ids(1, 2), ids(1, 2))
			h.install(2, ringB, ids(1, 2, 3), ids(1, 2, 3))
		}, []Kind{KindMembership, KindTransitional}},
		{"transitional not a subset of the old configuration", false, func(h *hist) {
			for _, n := range ids(1, 2) {
				h.install(n, ringA, ids(1, 2), nil)
			}
			h.install(1, ringB, ids(1, 2, 3), ids(1, 2, 3))
		}, []Kind{KindTransitional}},
		{"transitional lacks a node from the same old ring", false, func(h *hist) {
			formABC(h)
			h.install(1, ringB, ids(1, 2, 3), ids(1, 3))
			h.install(2, ringB, ids(1, 2, 3), ids(1, 2, 3))
			h.install(3, ringB, ids(1, 2, 3), ids(1, 2, 3))
		}, []Kind{KindTransitional}},
		{"regular configuration without transitional", false, func(h *hist) {
			h.installRegular(1, ringA, ids(1), nil)
		}, []Kind{KindConfSequence}},
		{"message delivered before any configuration", false, func(h *hist) {
			a := h.send(1)
			h.deliver(1, a)
		}, []Kind{KindConfSequence}},
		{"one message in two rings", false, func(h *hist) {
			for _, n := range ids(1, 2, 3) {
				h.install(n, ringA, ids(1, 2, 3), nil)
			}
			a := h.send(2)
			h.deliver(1, a)
			h.deliver(2, a)
			h.install(3, srp.RingID{Rep: 3, Seq: 12}, ids(3), ids(3))
			h.deliver(3, a)
		}, []Kind{KindAgreement}},
		{"own message never delivered", true, func(h *hist) {
			formABC(h)
			h.send(2)
		}, []Kind{KindSelfDelivery}},
		{"own message pending at a crash is fine", true, func(h *hist) {
			formABC(h)
			h.send(2)
			h.c.Stop(h.inc[2])
		}, nil},
		{"others delivered it, sender moved on without", false, func(h *hist) {
			formABC(h)
			a := h.send(3)
			h.deliver(1, a)
			h.deliver(2, a)
			h.install(3, srp.RingID{Rep: 3, Seq: 12}, ids(3), ids(3))
		}, []Kind{KindSelfDelivery}},
		{"ring seq going backwards", false, func(h *hist) {
			h.install(1, ringB, ids(1), nil)
			h.install(1, ringA, ids(1), ids(1))
		}, []Kind{KindConfSequence}},
		{"representative not the lowest member", false, func(h *hist) {
			h.install(2, srp.RingID{Rep: 2, Seq: 8}, ids(1, 2), nil)
		}, []Kind{KindMembership}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHist(t, 1, 2, 3)
			tc.build(h)
			got := kindsOf(h.c.Finish(h.tick(), tc.quiescent))
			if !slices.Equal(got, tc.want) {
				t.Errorf("violation kinds %v, want %v; violations:", got, tc.want)
				for _, v := range h.c.Violations() {
					t.Logf("  %v", v)
				}
			}
		})
	}
}

func TestCheckerKeepsALimitButCountsAll(t *testing.T) {
	h := newHist(t, 1, 2, 3)
	formABC(h)
	a := h.send(1)
	h.deliver(1, a)
	for range DefaultViolationLimit + 10 {
		h.deliver(1, a)
	}
	if got := len(h.c.Violations()); got != DefaultViolationLimit {
		t.Errorf("kept %d violations, want %d", got, DefaultViolationLimit)
	}
	if got := h.c.Total(); got != DefaultViolationLimit+10 {
		t.Errorf("counted %d violations, want %d", got, DefaultViolationLimit+10)
	}
}
