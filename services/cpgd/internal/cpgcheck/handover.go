package cpgcheck

import (
	"bytes"
	"math/rand/v2"

	"github.com/needle-cluster/needle/services/cpgd/internal/cpg"
)

// Planned restarts: a cpgd that restarts on purpose hands its core to its
// successor at a quiet moment (libs/ipcproto's doc, "Handing a daemon over
// to its successor"): its clients stay connected, the ring and the other
// nodes see nothing, and totemd keeps its queues. The simulator replaces
// the node's core by Restore(Snapshot()) and goes on; every check must
// keep passing, and since the successor behaves exactly as its predecessor
// would have, the history must not change at all (TestHandoverChangesNothing).
//
// The node's queues (totemd's side) stay as they are: the daemon also
// waits until its multicasts are delivered, but that is the adapter's
// wait, not the core's, so the simulator hands over any quiet core.
//
// Handovers draw from their own generator, so a seed's history is the same
// with and without them: a failing seed replays with its handovers, and
// TestHandoverChangesNothing -seed N compares it with and without them.

// newHandoverRand is the generator of a run's handovers.
func newHandoverRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x5bd1e995, seed+1))
}

// maybeHandover, with chance HandoverRate, picks an up node and, if its
// core is quiet, hands it over.
func (s *Sim) maybeHandover() {
	if s.opt.HandoverRate == 0 || s.hrng.Float64() >= s.opt.HandoverRate {
		return
	}
	up := s.upNodes()
	if len(up) == 0 {
		return
	}
	n := up[s.hrng.IntN(len(up))]
	if ok, _ := n.core.Quiet(); !ok {
		s.Stats.HandoverWaits++
		return
	}
	b, err := n.core.Snapshot()
	if err != nil {
		s.chk.violate("node %d: quiet core refused its snapshot: %v", n.id, err)
		return
	}
	// The bytes travel through totemd to the successor: a copy, which the
	// successor's core must not keep a hold on.
	sent := bytes.Clone(b)
	c, err := cpg.Restore(cpg.Config{NodeID: n.id, Keep317AbortBug: s.opt.Keep317AbortBug}, sent)
	if err != nil {
		s.chk.violate("node %d: restore of its own snapshot: %v", n.id, err)
		return
	}
	for i := range sent {
		sent[i] = 0xa5
	}
	if again, err := c.Snapshot(); err != nil || !bytes.Equal(again, b) {
		s.chk.violate("node %d: the restored core encodes differently (%v)", n.id, err)
		return
	}
	s.tracef("handover node %d (%d bytes)", n.id, len(b))
	n.core = c
	s.Stats.Handovers++
}
