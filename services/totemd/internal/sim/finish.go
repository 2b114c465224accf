package sim

import (
	"cmp"
	"slices"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// Finish runs the checks that need whole histories, at virtual time now, and
// returns every violation kept. quiescent says the run ended healed and
// drained: every live incarnation must then have delivered all it sent.
func (c *Checker) Finish(now srp.Time, quiescent bool) []Violation {
	rings := make([]srp.RingID, 0, len(c.rings))
	for r := range c.rings {
		rings = append(rings, r)
	}
	slices.SortFunc(rings, func(a, b srp.RingID) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Rep, b.Rep))
	})
	for _, r := range rings {
		c.checkOrder(now, r, c.rings[r])
		c.checkTransitional(now, r, c.rings[r])
	}
	c.checkSynchrony(now)
	c.checkSelfDelivery(now, quiescent)
	return c.violations
}

// checkOrder: every incarnation's deliveries in ring r must be consistent
// with one total order. The union of "delivered right after" edges over all
// incarnations must be acyclic (Kahn's algorithm); on a cycle, a pair of
// incarnations that disagree is named.
func (c *Checker) checkOrder(now srp.Time, r srp.RingID, rec *ringRec) {
	if len(rec.installs) < 2 {
		return
	}
	index := map[MsgID]int32{}
	var succ [][]int32
	var indeg []int32
	for _, in := range rec.installs {
		prev := int32(-1)
		for _, id := range in.inc.epochs[in.epoch].msgs {
			i, ok := index[id]
			if !ok {
				i = int32(len(succ))
				index[id] = i
				succ = append(succ, nil)
				indeg = append(indeg, 0)
			}
			if prev >= 0 {
				succ[prev] = append(succ[prev], i)
				indeg[i]++
			}
			prev = i
		}
	}
	ready := make([]int32, 0, len(succ))
	for i, d := range indeg {
		if d == 0 {
			ready = append(ready, int32(i))
		}
	}
	done := 0
	for len(ready) > 0 {
		i := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		done++
		for _, j := range succ[i] {
			if indeg[j]--; indeg[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	if done == len(succ) {
		return
	}
	for a := 0; a < len(rec.installs); a++ {
		for b := a + 1; b < len(rec.installs); b++ {
			ia, ib := rec.installs[a], rec.installs[b]
			if x, y, ok := disorder(ia.inc.epochs[ia.epoch].msgs, ib.inc.epochs[ib.epoch].msgs); ok {
				c.report(KindOrder, now, ia.inc.Node, "in ring %s n%d delivered %v before %v, n%d the other way round",
					fmtRing(r), ia.inc.Node, x, y, ib.inc.Node)
				return
			}
		}
	}
	c.report(KindOrder, now, rec.firstNode, "in ring %s the delivery orders of its members admit no common total order", fmtRing(r))
}

// disorder finds messages x, y that a delivered as x then y and b as y then x.
func disorder(a, b []MsgID) (x, y MsgID, ok bool) {
	pos := make(map[MsgID]int, len(a))
	for i, id := range a {
		pos[id] = i
	}
	last, lastID := -1, MsgID(0)
	for _, id := range b {
		p, in := pos[id]
		if !in {
			continue
		}
		if p < last {
			return id, lastID, true
		}
		last, lastID = p, id
	}
	return 0, 0, false
}

// checkTransitional: the transitional configuration that led an incarnation
// from ring P into ring r holds exactly those installers of r that came from
// P as well (corosync: same old ring id in the commit token).
func (c *Checker) checkTransitional(now srp.Time, r srp.RingID, rec *ringRec) {
	for _, in := range rec.installs {
		prev := in.inc.epochs[in.epoch-1]
		if prev.reg == nil || prev.trans == nil {
			continue
		}
		for _, other := range rec.installs {
			if other.inc == in.inc {
				continue
			}
			oprev := other.inc.epochs[other.epoch-1].reg
			same := oprev != nil && oprev.Ring == prev.reg.Ring
			listed := slices.Contains(prev.trans.Members, other.inc.Node)
			switch {
			case same && !listed:
				c.report(KindTransitional, now, in.inc.Node, "entering ring %s from %s, transitional %v lacks n%d which came from the same ring",
					fmtRing(r), fmtRing(prev.reg.Ring), prev.trans.Members, other.inc.Node)
			case !same && listed:
				from := "no ring"
				if oprev != nil {
					from = fmtRing(oprev.Ring)
				}
				c.report(KindTransitional, now, in.inc.Node, "entering ring %s from %s, transitional %v lists n%d which came from %s",
					fmtRing(r), fmtRing(prev.reg.Ring), prev.trans.Members, other.inc.Node, from)
			}
		}
	}
}

// checkSynchrony: incarnations that installed the same two consecutive
// regular configurations delivered the same set of messages in the first.
func (c *Checker) checkSynchrony(now srp.Time) {
	type first struct {
		inc  *Incarnation
		msgs []MsgID
	}
	seen := map[[2]srp.RingID]first{}
	for _, inc := range c.incs {
		for i := 1; i+1 < len(inc.epochs); i++ {
			from, to := inc.epochs[i].reg.Ring, inc.epochs[i+1].reg.Ring
			key := [2]srp.RingID{from, to}
			msgs := slices.Clone(inc.epochs[i].msgs)
			slices.Sort(msgs)
			f, ok := seen[key]
			if !ok {
				seen[key] = first{inc, msgs}
				continue
			}
			if slices.Equal(f.msgs, msgs) {
				continue
			}
			has, lacks, id := inc, f.inc, onlyIn(msgs, f.msgs)
			if id == 0 {
				has, lacks, id = f.inc, inc, onlyIn(f.msgs, msgs)
			}
			c.report(KindSynchrony, now, inc.Node, "n%d and n%d both went from ring %s to %s, but n%d delivered %v in %s and n%d did not (%d vs %d messages)",
				inc.Node, f.inc.Node, fmtRing(from), fmtRing(to), has.Node, id, fmtRing(from), lacks.Node, len(msgs), len(f.msgs))
		}
	}
}

// onlyIn returns the first id of sorted a that is not in sorted b, or 0.
func onlyIn(a, b []MsgID) MsgID {
	for _, id := range a {
		if _, found := slices.BinarySearch(b, id); !found {
			return id
		}
	}
	return 0
}

// checkSelfDelivery: a sender that stays in the ring it sent on until the
// next configuration delivers its own message there whenever anyone did;
// and, once quiescent, every live incarnation delivered all it sent.
func (c *Checker) checkSelfDelivery(now srp.Time, quiescent bool) {
	checked := map[MsgID]struct{}{}
	for _, inc := range c.incs {
		for _, ep := range inc.epochs {
			if ep.reg == nil {
				continue
			}
			for _, id := range ep.msgs {
				if _, ok := checked[id]; ok {
					continue
				}
				checked[id] = struct{}{}
				origin := c.incarnation(id.Node(), id.Inc())
				if origin == nil || origin == inc {
					continue
				}
				e, ok := origin.rings[ep.reg.Ring]
				if !ok {
					continue // reported as agreement when delivered
				}
				movedOn := e+1 < len(origin.epochs)
				if (movedOn || (quiescent && origin.Alive)) && !origin.HasDelivered(id) {
					c.report(KindSelfDelivery, now, origin.Node, "n%d delivered %v in ring %s but its sender never did",
						inc.Node, id, fmtRing(ep.reg.Ring))
				}
			}
		}
	}
	if !quiescent {
		return
	}
	for _, inc := range c.incs {
		if !inc.Alive {
			continue
		}
		missing, example := 0, MsgID(0)
		for _, id := range inc.accepted {
			if !inc.HasDelivered(id) {
				if missing == 0 {
					example = id
				}
				missing++
			}
		}
		if missing > 0 {
			c.report(KindSelfDelivery, now, inc.Node, "%d of its %d accepted messages never delivered to itself (first %v)",
				missing, len(inc.accepted), example)
		}
	}
}
