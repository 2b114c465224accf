package sim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// Timers are corosync 3.1.7's derivation rules (spec/totem.md §9) applied to
// a token timeout ten times shorter than the default, with a token
// coefficient of 30 ms instead of 650 ms. Frames take about a millisecond
// per hop, so the ratios that matter (rotation time to retransmit and loss
// timeouts) stay LAN-like while virtual runs stay short.
const (
	simTokenBase        = 300 * time.Millisecond
	simTokenCoefficient = 30 * time.Millisecond
	simJoin             = 50 * time.Millisecond
	simMerge            = 200 * time.Millisecond
	simDowncheck        = 1000 * time.Millisecond
	// simNetMTU is totem.netmtu; the largest payload is netmtu minus two
	// MCAST headers (spec/totem.md §8.2).
	simNetMTU = 1500
	// MaxPayload is the largest payload the simulator sends.
	MaxPayload = simNetMTU - 2*45
)

// CoreConfig is the srp configuration of node self in a ring of the given
// nodes, restarted with ringSeq (the persisted seq plus one).
func CoreConfig(self srp.NodeID, nodes []srp.NodeID, ringSeq uint64) srp.Config {
	return coreConfig(self, nodes, ringSeq, simTokenBase, simTokenCoefficient)
}

// CorosyncConfig is CoreConfig with corosync 3.1.7's default token (3 s)
// and token coefficient (650 ms): 22.5 s of token timeout at 32 nodes,
// against join and merge periods of 50 and 200 ms, the ratios a real
// cluster started with an empty totem section has.
func CorosyncConfig(self srp.NodeID, nodes []srp.NodeID, ringSeq uint64) srp.Config {
	return coreConfig(self, nodes, ringSeq, 3000*time.Millisecond, 650*time.Millisecond)
}

// timersConfig is CorosyncConfig when corosync is set, else CoreConfig:
// both simulators' choice by their CorosyncTimers option.
func timersConfig(corosync bool, self srp.NodeID, nodes []srp.NodeID, ringSeq uint64) srp.Config {
	if corosync {
		return CorosyncConfig(self, nodes, ringSeq)
	}
	return CoreConfig(self, nodes, ringSeq)
}

func coreConfig(self srp.NodeID, nodes []srp.NodeID, ringSeq uint64, base, coefficient time.Duration) srp.Config {
	token := base
	if len(nodes) > 2 {
		token += time.Duration(len(nodes)-2) * coefficient
	}
	const retransmitsBeforeLoss = 4
	retransmit := token * 10 / (retransmitsBeforeLoss*10 + 2)
	hold := retransmit*8/10 - 10*time.Millisecond
	hold = max(hold, 14*time.Millisecond)
	return srp.Config{
		Self:                self,
		Nodes:               nodes,
		Token:               token,
		TokenRetransmit:     retransmit,
		Hold:                hold,
		Join:                simJoin,
		Consensus:           token * 12 / 10,
		Merge:               simMerge,
		Downcheck:           simDowncheck,
		FailRecvConst:       2500,
		SeqnoUnchangedConst: 30,
		MissCountConst:      5,
		WindowSize:          50,
		MaxMessages:         17,
		MaxNetworkDelay:     50 * time.Millisecond,
		NetMTU:              simNetMTU,
		RingSeq:             ringSeq,
	}
}

// NodeRange is an inclusive range of ring sizes.
type NodeRange struct{ Min, Max int }

// Ring sizes the simulator supports.
const (
	MinNodes = 3
	MaxNodes = 64
)

// ParseNodeRange reads "5" or "3-64".
func ParseNodeRange(s string) (NodeRange, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	min, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return NodeRange{}, fmt.Errorf("node count %q: %w", s, err)
	}
	max := min
	if isRange {
		if max, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
			return NodeRange{}, fmt.Errorf("node count %q: %w", s, err)
		}
	}
	if min < MinNodes || max > MaxNodes || min > max {
		return NodeRange{}, fmt.Errorf("node count %q: want N or MIN-MAX within %d-%d", s, MinNodes, MaxNodes)
	}
	return NodeRange{min, max}, nil
}

func (r NodeRange) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

// Pick chooses the ring size for seed: mostly small rings, where most bugs
// show and runs are cheap, fewer medium ones and a few large. It uses its
// own generator so that a run depends only on (seed, size, profile).
func (r NodeRange) Pick(seed uint64) int {
	if r.Min == r.Max {
		return r.Min
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e6f646573))
	bands := []struct {
		upTo   float64
		lo, hi int
	}{{0.65, 3, 8}, {0.90, 9, 16}, {0.975, 17, 32}, {1, 33, 64}}
	u := rng.Float64()
	for _, b := range bands {
		if u >= b.upTo {
			continue
		}
		lo, hi := max(b.lo, r.Min), min(b.hi, r.Max)
		if lo <= hi {
			return lo + rng.IntN(hi-lo+1)
		}
		break
	}
	return r.Min + rng.IntN(r.Max-r.Min+1)
}
