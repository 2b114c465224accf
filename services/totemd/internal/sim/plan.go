package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// plan draws everything about the run from the seed up front: network
// baseline, send rates, node start times, the faults and the heal.
func (s *Sim) plan() {
	p := s.opts.Profile
	r := s.rng
	nw := s.net
	nw.base = time.Duration(100+r.IntN(900)) * time.Microsecond
	nw.jitter = time.Duration(r.Int64N(int64(2*nw.base) + 1))
	nw.loss = r.Float64() * p.LossMax
	nw.dup = r.Float64() * p.DupMax

	// 10–150 messages per second over the whole ring; a few nodes stay
	// silent so that rings with idle members are exercised too.
	total := 10 + r.Float64()*140
	for _, n := range s.nodes {
		if r.IntN(8) == 0 {
			continue
		}
		n.rate = total / float64(len(s.nodes)) * (0.25 + 1.5*r.Float64())
	}

	spread := s.tokens(0, 1.5)
	if r.IntN(4) == 0 {
		spread = 0 // everyone at once
	}
	if p.StartWithin > 0 {
		spread = p.StartWithin
	}
	for _, n := range s.nodes {
		at := time.Duration(r.Int64N(int64(spread) + 1))
		s.form.coldFrom = max(s.form.coldFrom, at)
		s.at(at, func() { s.start(n) })
	}

	// Large rings get a shorter fault phase (in token timeouts, which grow
	// with the ring): their runs cost more per virtual second.
	scale := min(1, max(0.4, 16/float64(len(s.nodes))))
	heal := s.tokens(p.PhaseMin*scale, p.PhaseMax*scale)
	s.healAt = heal // the time it is due; set again when it happens
	s.tracePlan(heal)
	faults := 0
	if p.FaultsMax > 0 {
		faults = p.FaultsMin + r.IntN(p.FaultsMax-p.FaultsMin+1)
	}
	weightSum := 0
	for _, w := range p.Weights {
		weightSum += w
	}
	for range faults {
		if weightSum == 0 {
			break
		}
		t := spread + time.Duration(r.Int64N(int64(max(heal-spread, 0))+1))
		k, w := faultKind(0), r.IntN(weightSum)
		for ; w >= p.Weights[k]; k++ {
			w -= p.Weights[k]
		}
		s.scheduleFault(t, k, heal)
	}
	s.fault(heal, s.heal)
	s.q.push(event{at: probeEvery, kind: evProbe})
}

func (s *Sim) tracePlan(heal srp.Time) {
	if s.trace == nil {
		return
	}
	rates := make([]string, 0, len(s.nodes))
	for _, n := range s.nodes {
		rates = append(rates, fmt.Sprintf("%.1f", n.rate))
	}
	fmt.Fprintf(s.trace, "# seed=%d nodes=%d profile=%s token=%v delay=%v+%v loss=%.3f dup=%.3f heal=%s send/s=[%s]\n",
		s.opts.Seed, len(s.nodes), s.opts.Profile.Name, s.token, s.net.base, s.net.jitter, s.net.loss, s.net.dup,
		fmtTime(heal), strings.Join(rates, " "))
}

// tokens returns a random duration between lo and hi token timeouts.
func (s *Sim) tokens(lo, hi float64) srp.Time {
	return srp.Time((lo + s.rng.Float64()*(hi-lo)) * float64(s.token))
}

// scheduleFault arranges fault k at t and, when it ends before the heal, its
// undoing. Each kind has a generation so that an older fault's end does not
// undo a newer fault of the same kind.
func (s *Sim) scheduleFault(t srp.Time, k faultKind, heal srp.Time) {
	r := s.rng
	end := t + s.tokens(0.3, 6)
	undo := func(fn func()) {
		if end >= heal {
			return
		}
		s.gens[k]++
		gen := s.gens[k]
		s.fault(end, func() {
			if s.gens[k] == gen && !s.healed {
				fn()
			}
		})
	}
	nw := s.net
	victim := s.nodes[r.IntN(len(s.nodes))]
	switch k {
	case faultPartition:
		groups := 2 + r.IntN(2)
		assign := make([]int, len(s.nodes))
		for i := range assign {
			assign[i] = r.IntN(groups)
		}
		s.fault(t, func() {
			copy(nw.group, assign)
			s.tracef(nil, "fault partition %v", assign)
		})
		undo(func() {
			clear(nw.group)
			s.tracef(nil, "heal partition")
		})
	case faultIsolate:
		s.fault(t, func() {
			nw.group[victim.idx] = -1 - int(victim.idx)
			s.tracef(nil, "fault isolate n%d", victim.id)
		})
		undo(func() {
			clear(nw.group)
			s.tracef(nil, "heal isolation")
		})
	case faultAsym:
		var links []int
		switch r.IntN(3) {
		case 0: // one node cannot send
			for to := range s.nodes {
				links = append(links, int(victim.idx)*len(s.nodes)+to)
			}
		case 1: // one node cannot receive
			for from := range s.nodes {
				links = append(links, from*len(s.nodes)+int(victim.idx))
			}
		default: // a few random one-way links
			for range 1 + r.IntN(len(s.nodes)) {
				links = append(links, r.IntN(len(s.nodes)*len(s.nodes)))
			}
		}
		s.fault(t, func() {
			for _, l := range links {
				nw.cut[l] = true
			}
			s.tracef(nil, "fault cut %d one-way links around n%d", len(links), victim.id)
		})
		undo(func() {
			clear(nw.cut)
			s.tracef(nil, "heal one-way links")
		})
	case faultLoss:
		loss := 0.05 + 0.35*r.Float64()
		s.lossFault(t, loss, undo)
	case faultDup:
		dup := 0.1 + 0.4*r.Float64()
		base := nw.dup
		s.fault(t, func() { nw.dup = dup; s.tracef(nil, "fault dup=%.2f", dup) })
		undo(func() { nw.dup = base; s.tracef(nil, "heal dup") })
	case faultJitter:
		jitter := time.Duration(1+r.IntN(20)) * time.Millisecond
		base := nw.jitter
		s.fault(t, func() { nw.jitter = jitter; s.tracef(nil, "fault jitter=%v", jitter) })
		undo(func() { nw.jitter = base; s.tracef(nil, "heal jitter") })
	case faultSlow:
		extra := s.tokens(0.01, 0.4)
		s.fault(t, func() { nw.slow[victim.idx] = extra; s.tracef(nil, "fault n%d slow +%v", victim.id, extra) })
		undo(func() { clear(nw.slow); s.tracef(nil, "heal slow") })
	case faultCrash, faultLeave:
		s.fault(t, func() {
			if victim.core == nil {
				return
			}
			if k == faultLeave {
				victim.core.Leave(s.now)
				s.tracef(victim, "leave")
				s.after(victim)
			}
			s.stop(victim, k.String())
			gen := victim.gen
			if r.IntN(3) > 0 {
				if back := s.now + s.tokens(0.1, 4); back < heal {
					s.fault(back, func() {
						if victim.gen == gen {
							s.start(victim)
						}
					})
				}
			}
		})
	case faultReform:
		s.fault(t, func() {
			if victim.core == nil || victim.core.Status().State != srp.Operational {
				return // a new ring is on its way anyway
			}
			s.tracef(victim, "reform")
			victim.core.Reform(s.now)
			s.after(victim)
			s.cleanChange(fmt.Sprintf("reform by n%d", victim.id), false)
		})
	case faultBurst:
		count := 20 + r.IntN(300)
		s.fault(t, func() {
			if victim.core == nil {
				return
			}
			s.tracef(victim, "burst of %d sends", count)
			for range count {
				if !s.mcast(victim) {
					break
				}
			}
			if victim.pending != nil {
				s.scheduleSend(victim, 20*time.Millisecond)
			}
		})
	}
}

func (s *Sim) lossFault(t srp.Time, loss float64, undo func(func())) {
	nw := s.net
	base := nw.loss
	s.fault(t, func() { nw.loss = loss; s.tracef(nil, "fault loss=%.2f", loss) })
	undo(func() { nw.loss = base; s.tracef(nil, "heal loss") })
}

// fault schedules a change of the network or of a node's life at t.
func (s *Sim) fault(t srp.Time, fn func()) {
	s.at(t, func() {
		s.lastChange = s.now
		fn()
		if !s.net.stable() {
			s.uncleanChange()
		}
	})
}

// heal ends every fault: the network becomes whole and lossless (delay,
// jitter and duplication stay), and most crashed nodes come back. From
// here on the live nodes must form one ring and deliver what they send.
func (s *Sim) heal() {
	s.healed, s.healAt = true, s.now
	s.net.heal()
	s.uncleanChange()
	s.tracef(nil, "heal all faults")
	restart := s.now
	for _, n := range s.nodes {
		if n.core == nil && s.rng.IntN(5) > 0 {
			restart = max(restart, s.now+s.tokens(0, 0.5))
			s.fault(restart, func() { s.start(n) })
		}
	}
	cfg := s.coreConfig(1, 1)
	s.restartBy = restart
	s.formBy = max(restart, s.faultFramesUntil) + 20*(cfg.Token+cfg.Consensus) + time.Second
	if s.opts.MaxEvents == 0 {
		s.max = DefaultMaxEvents(len(s.nodes), s.formBy)
	}
}

// live lists the nodes that are up.
func (s *Sim) live() []*node {
	var out []*node
	for _, n := range s.nodes {
		if n.core != nil {
			out = append(out, n)
		}
	}
	return out
}

// oneRing reports whether every live node is operational on the same ring
// whose members are exactly the live nodes, with its regular configuration
// delivered.
func (s *Sim) oneRing(live []*node) (srp.RingID, bool) {
	want := make([]srp.NodeID, 0, len(live))
	for _, n := range live {
		want = append(want, n.id)
	}
	var ring srp.RingID
	for i, n := range live {
		st := n.core.Status()
		cur := n.inc.Current()
		if st.State != srp.Operational || cur == nil || cur.Ring != st.Ring || !slices.Equal(cur.Members, want) {
			return ring, false
		}
		if i == 0 {
			ring = st.Ring
		} else if st.Ring != ring {
			return ring, false
		}
	}
	return ring, true
}

// probe checks liveness after the heal: one ring within formBy, then every
// message sent on it delivered everywhere within drainBy.
func (s *Sim) probe() {
	s.formationProbe()
	live := s.live()
	if s.stormed(len(live)) {
		return
	}
	if !s.healed {
		s.q.push(event{at: s.now + probeEvery, kind: evProbe})
		return
	}
	ring, one := s.oneRing(live)
	switch {
	case !s.formed && one && s.now > s.restartBy && s.now > s.faultFramesUntil:
		s.formed, s.formedAt, s.ring = true, s.now, ring
		s.sendStop = s.now + max(time.Second, 2*s.token)
		s.drainBy = s.sendStop + 20*s.token + 30*time.Second
		s.tracef(nil, "all %d live nodes on ring %s", len(live), fmtRing(ring))
	case !s.formed:
		if s.now > s.formBy {
			s.chk.report(KindLiveness, s.now, 0, "no single ring %s after the heal at %s: %s",
				fmtTime(s.now-s.healAt), fmtTime(s.healAt), s.describeNodes(live))
			s.done = true
			return
		}
	case !one || ring != s.ring:
		// Timers armed before the heal (token loss after a lossy spell,
		// say) may still break the first ring: wait again, within bounds.
		cfg := s.coreConfig(1, 1)
		if s.now < s.healAt+2*(cfg.Token+cfg.Consensus) {
			s.formed, s.sending = false, true
			s.tracef(nil, "ring %s broke up in the heal's aftermath; waiting for the next", fmtRing(s.ring))
			break
		}
		s.chk.report(KindLiveness, s.now, 0, "ring %s broke up after it formed at %s with no fault: %s",
			fmtRing(s.ring), fmtTime(s.formedAt), s.describeNodes(live))
		s.done = true
		return
	default:
		if s.sending && s.now >= s.sendStop {
			s.sending = false
			s.tracef(nil, "application sends stop")
		}
		if !s.sending {
			missing := s.undelivered(live)
			if missing == "" {
				s.quiescent, s.done = true, true
				return
			}
			// The backlog drains at the flow-control rate, which may take
			// long after a long outage; what must not happen is a stall.
			if s.delivered != s.progressCount {
				s.progressCount, s.progressAt = s.delivered, s.now
			}
			cfg := s.coreConfig(1, 1)
			stalled := s.now-max(s.progressAt, s.sendStop) > 2*(cfg.Token+cfg.Consensus)
			if stalled || s.now > s.drainBy {
				why := "no delivery anywhere for " + fmtTime(s.now-max(s.progressAt, s.sendStop))
				if !stalled {
					why = "still draining at the bound"
				}
				s.chk.report(KindLiveness, s.now, 0, "messages not delivered %s after sends stopped (%s): %s",
					fmtTime(s.now-s.sendStop), why, missing)
				s.done = true
				return
			}
		}
	}
	s.q.push(event{at: s.now + probeEvery, kind: evProbe})
}

// stormed detects a join storm: joins arriving at half the rate the live
// nodes can take in, for one and a half consensus timeouts with no fault or
// heal in between. Healthy GATHER phases send a join per node every join
// period (50 ms), orders of magnitude less. A storm sustains itself (each
// join with news makes its receivers re-enter GATHER, send a join and
// restart their consensus timer), so no ring forms although the network
// stands still: a liveness failure.
func (s *Sim) stormed(live int) bool {
	busy := uint64(float64(live) * float64(probeEvery) / float64(rxService) / 2)
	n := s.joins - s.probeJoins
	s.probeJoins = s.joins
	if live == 0 || n < busy {
		s.saturated = 0
		return false
	}
	if s.saturated == 0 {
		s.saturated = s.now
	}
	cfg := s.coreConfig(1, 1)
	if s.now-max(s.saturated, s.lastChange) < 3*cfg.Consensus/2 {
		return false
	}
	s.chk.report(KindLiveness, s.now, 0, "join storm: %d joins in %s, saturated since %s, no fault since %s: %s",
		n, probeEvery, fmtTime(s.saturated), fmtTime(s.lastChange), s.describeNodes(s.live()))
	s.done = true
	return true
}

// undelivered describes the first live node still missing a message it must
// deliver: its own, or any sent after the final ring formed. "" if none.
func (s *Sim) undelivered(live []*node) string {
	var need []MsgID
	for _, o := range live {
		acc := o.inc.Accepted()
		for i := len(acc) - 1; i >= 0; i-- {
			if at, _ := s.chk.AcceptedAt(acc[i]); at < s.formedAt {
				break
			}
			need = append(need, acc[i])
		}
	}
	for _, n := range live {
		for _, id := range n.inc.Accepted() {
			if !n.inc.HasDelivered(id) {
				return fmt.Sprintf("n%d has not delivered its own %v", n.id, id)
			}
		}
		for _, id := range need {
			if !n.inc.HasDelivered(id) {
				return fmt.Sprintf("n%d has not delivered %v, sent on the final ring", n.id, id)
			}
		}
	}
	return ""
}

func (s *Sim) describeNodes(live []*node) string {
	var b strings.Builder
	for i, n := range live {
		if i > 0 {
			b.WriteString("; ")
		}
		st := n.core.Status()
		fmt.Fprintf(&b, "n%d %s ring %s members %v", n.id, stateName(st.State), fmtRing(st.Ring), st.Members)
	}
	if len(live) == 0 {
		b.WriteString("no live nodes")
	}
	return b.String()
}
