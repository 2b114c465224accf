package sim

import (
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// Bounded formation. A membership change that the protocol is told about —
// a node starting, a node stopping cleanly (its leave message) — must lead
// to one ring of the live nodes quickly once the network is stable: the
// nodes exchange joins, agree and install, which takes a few join periods
// and at most one consensus timeout, never a token loss (a token loss is
// how Totem notices what it was not told: a crash, a partition). So when
// such a change happens with the network stable (no partition, cut link,
// slow node or loss) and every live node on one ring, the simulator opens a
// formation window; another clean change before the ring forms moves the
// window's start. The window fails with KindFormation if a live node loses
// the token while it is open, or if no single ring of the live nodes has
// formed by its bound. Crashes and network faults close the window and
// need a new settled ring before the next one opens; the heal keeps its
// own, looser liveness bound (probe).
type formation struct {
	settled bool     // every live node was on one ring after the last unclean change
	open    bool     // a window is open
	from    srp.Time // its last clean change
	why     string   // that change, for the report
	stop    bool     // that change was a clean stop

	// Figures for Result.
	coldFrom srp.Time // the last of the planned first starts
	coldTook srp.Time // from then to one ring of all nodes (0 if not measured)
	windows  int      // windows closed by a formed ring
	slowest  srp.Time
	slowWhy  string
	slowStop srp.Time // the slowest window that ended with a clean stop
}

// FormationBound is how long the live nodes may take to form one ring after
// a clean change on a stable network: a join period to hear the change, a
// consensus timeout should some processor's agreement be late, and a second
// of both for the commit token's two laps and recovery on the largest rings
// (a lap of 64 nodes takes about 0.1 s in the simulator).
func FormationBound(cfg srp.Config) srp.Time {
	return 2 * (cfg.Join + cfg.Consensus)
}

// stable reports whether the network stands still in the sense of bounded
// formation: no partition, cut link, slow node or loss (duplication and
// jitter stay after the heal too, and are allowed).
func (nw *network) stable() bool {
	if nw.loss > 0 {
		return false
	}
	for i := range nw.group {
		if nw.group[i] != 0 || nw.slow[i] != 0 {
			return false
		}
	}
	for _, c := range nw.cut {
		if c {
			return false
		}
	}
	return true
}

// cleanChange records a start or a clean stop.
func (s *Sim) cleanChange(why string, stop bool) {
	f := &s.form
	if !s.net.stable() {
		s.uncleanChange()
		return
	}
	switch {
	case f.open:
		f.from, f.why, f.stop = s.now, why, stop
	case f.settled:
		f.open, f.from, f.why, f.stop = true, s.now, why, stop
		f.settled = false
		for _, n := range s.nodes {
			n.tokenLost = s.tokenLost(n)
		}
	}
	if len(s.live()) == 0 { // the last node stopped: nothing to form
		f.open, f.settled = false, true
	}
}

// uncleanChange records a crash, a network fault or the heal.
func (s *Sim) uncleanChange() {
	s.form.open, s.form.settled = false, false
}

// tokenLost is how many token timeouts n's core has waited out.
func (s *Sim) tokenLost(n *node) uint64 {
	if n.core == nil {
		return 0
	}
	return n.core.Status().Counters.TokenTimeouts
}

// windowTokenLoss reports (once) a live node that lost the token while the
// window is open: the protocol waited for a token loss to form.
func (s *Sim) windowTokenLoss() bool {
	f := &s.form
	for _, n := range s.live() {
		if s.tokenLost(n) > n.tokenLost {
			s.chk.report(KindFormation, s.now, n.id, "lost the token %s after the %s at %s on a stable network: %s",
				fmtTime(s.now-f.from), f.why, fmtTime(f.from), s.describeNodes(s.live()))
			f.open = false
			return true
		}
	}
	return false
}

// formationInstalled is called when a node installed a regular
// configuration: a window closes when all live nodes are on one ring.
func (s *Sim) formationInstalled() {
	f := &s.form
	if f.settled && !f.open && f.coldTook > 0 {
		return
	}
	live := s.live()
	if _, one := s.oneRing(live); !one {
		return
	}
	if f.coldTook == 0 && !s.everStopped && len(live) == len(s.nodes) && s.now >= f.coldFrom {
		f.coldTook = s.now - f.coldFrom
		s.tracef(nil, "cold start: one ring %s after the last start", fmtTime(f.coldTook))
	}
	f.settled = true
	if !f.open || s.windowTokenLoss() {
		return
	}
	f.open = false
	took := s.now - f.from
	f.windows++
	if took > f.slowest {
		f.slowest, f.slowWhy = took, f.why
	}
	if f.stop {
		f.slowStop = max(f.slowStop, took)
	}
	s.tracef(nil, "one ring %s after the %s", fmtTime(took), f.why)
}

// formationProbe checks an open window: no token loss, and the bound.
func (s *Sim) formationProbe() {
	f := &s.form
	if !f.open {
		return
	}
	if s.windowTokenLoss() {
		return
	}
	bound := FormationBound(s.coreConfig(1, 1))
	if s.now-f.from > bound {
		s.chk.report(KindFormation, s.now, 0, "no single ring %s after the %s at %s on a stable network (bound %s): %s",
			fmtTime(s.now-f.from), f.why, fmtTime(f.from), fmtTime(bound), s.describeNodes(s.live()))
		f.open = false
	}
}
