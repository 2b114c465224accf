package sim

import (
	"math/rand/v2"
	"time"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// network is the virtual udpu network: every directed link between two
// nodes can be cut, and all links share a loss rate, a duplication rate and
// a delay of base plus uniform jitter (jitter is what reorders frames).
// Partitions are group numbers: frames cross only within a group. A node's
// frames to itself (udpu sends to its own address) never get lost.
type network struct {
	n      int
	group  []int
	cut    []bool // cut[from*n+to]
	slow   []srp.Time
	loss   float64
	dup    float64
	base   srp.Time
	jitter srp.Time
}

// loopbackDelay is the delay of a node's frames to itself.
const loopbackDelay = 5 * time.Microsecond

func newNetwork(n int) *network {
	return &network{
		n:     n,
		group: make([]int, n),
		cut:   make([]bool, n*n),
		slow:  make([]srp.Time, n),
	}
}

// connected reports whether frames from → to get through the partition and
// link cuts (ignoring random loss).
func (nw *network) connected(from, to int) bool {
	return from == to || (nw.group[from] == nw.group[to] && !nw.cut[from*nw.n+to])
}

// fates decides what happens to one frame on from → to: how many copies
// arrive (0, 1 or 2) and after which delays.
func (nw *network) fates(rng *rand.Rand, from, to int) (copies int, d1, d2 srp.Time) {
	if from == to {
		return 1, loopbackDelay, 0
	}
	if !nw.connected(from, to) {
		return 0, 0, 0
	}
	if nw.loss > 0 && rng.Float64() < nw.loss {
		return 0, 0, 0
	}
	d1 = nw.delay(rng, from, to)
	if nw.dup > 0 && rng.Float64() < nw.dup {
		return 2, d1, nw.delay(rng, from, to)
	}
	return 1, d1, 0
}

func (nw *network) delay(rng *rand.Rand, from, to int) srp.Time {
	d := nw.base + nw.slow[from] + nw.slow[to]
	if nw.jitter > 0 {
		d += srp.Time(rng.Int64N(int64(nw.jitter) + 1))
	}
	return d
}

// heal removes partitions, link cuts, slow nodes and loss.
func (nw *network) heal() {
	for i := range nw.group {
		nw.group[i] = 0
		nw.slow[i] = 0
	}
	clear(nw.cut)
	nw.loss = 0
}
