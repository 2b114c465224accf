package sim

import (
	"github.com/needle-cluster/needle/services/totemd/internal/pload"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/stack"
)

// pload in the whole-node run: every stack serves pload (as totemd does),
// and half the runs start one or two pload runs on a random node during
// the churn, so pload's fill of srp's queue runs beside the daemons'
// pipelined multicasts, sync rounds and the faults. The daemons' end
// checks then say that pload starved nothing; finishPload says that
// every run a live node started has ended there (each node sends its
// count and counts its own messages too, so a run ends even alone).

// KindPload is a pload run that did not end, or ended wrongly.
const KindPload Kind = "pload"

// Bounds of a simulated run: small enough that 64 nodes' runs finish
// well inside the drain.
const (
	ploadMaxCount = 300
	ploadMaxSize  = 1200
)

// planPload plans the run's pload starts.
func (s *wsim) planPload() {
	if s.rng.IntN(2) == 0 {
		return
	}
	for range 1 + s.rng.IntN(2) {
		at := wholeStartSpread + srp.Time(s.rng.Int64N(int64(wholeChurnEnd-wholeStartSpread)))
		n := s.nodes[s.rng.IntN(len(s.nodes))]
		st := pload.Settings{Count: 1 + uint32(s.rng.IntN(ploadMaxCount)), Size: uint32(s.rng.IntN(ploadMaxSize)), Start: pload.Magic}
		s.at(at, func() { s.ploadStart(n, st) })
	}
}

// ploadStart is pload.start being set on n (a cmap write reaching totemd).
func (s *wsim) ploadStart(n *wnode, st pload.Settings) {
	if n.st == nil {
		return
	}
	s.tracef(n, "pload.start: %d messages of %d bytes", st.Count, st.Size)
	s.step(n, stack.PloadConfiguredEvent(st))
}

// ploadOut carries out what n's pload service asks: the deletion of
// pload.start comes back as a change of the keys, a result is checked.
func (s *wsim) ploadOut(n *wnode, po *stack.PloadOut) {
	if po.StartQueued {
		boot := n.boot
		s.at(s.now+2*busDelay, func() {
			if n.st != nil && n.boot == boot {
				s.step(n, stack.PloadConfiguredEvent(pload.Settings{Count: pload.DefaultCount, Size: pload.DefaultSize}))
			}
		})
	}
	if r := po.Result; r != nil {
		s.tracef(n, "pload result: %s", r.Line)
		if r.Writes == 0 || r.ElapsedNs < 0 {
			s.chk.report(KindPload, s.now, n.id, "pload result %+v", *r)
		}
	}
}

// finishPload reports a pload run still going on a live node at the end.
func (s *wsim) finishPload() {
	for _, n := range s.nodes {
		if n.st == nil {
			continue
		}
		if sent, got, want, running := n.st.PloadProgress(); running {
			s.chk.report(KindPload, s.now, n.id, "pload run not ended: sent %d and counted %d of %d messages", sent, got, want)
		}
	}
}
