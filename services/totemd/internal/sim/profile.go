package sim

import (
	"fmt"
	"strings"
	"time"
)

// Profile is a mix of faults for a run. Durations and times are in units of
// the ring's token timeout, so that a fault means the same thing on a
// 3-node ring and on a 64-node one.
type Profile struct {
	Name string
	// LossMax and DupMax bound the background loss and duplication rates
	// that hold for the whole fault phase.
	LossMax, DupMax float64
	// FaultsMin..FaultsMax faults happen during a fault phase lasting
	// PhaseMin..PhaseMax token timeouts.
	FaultsMin, FaultsMax int
	PhaseMin, PhaseMax   float64
	// Weights of each fault kind.
	Weights [numFaultKinds]int
	// StartWithin, when set, starts every node within this long of the
	// first (otherwise a quarter of the seeds start all nodes at the same
	// instant, the rest spread starts over up to 1.5 token timeouts).
	StartWithin time.Duration
}

// faultKind is one thing that can go wrong during the fault phase.
type faultKind uint8

const (
	faultPartition faultKind = iota // split the live nodes into 2–3 groups
	faultIsolate                    // cut one node off in both directions
	faultAsym                       // cut some directed links only
	faultLoss                       // raise the loss rate
	faultDup                        // raise the duplication rate
	faultJitter                     // raise delay jitter (reordering)
	faultSlow                       // one node's links get slow
	faultCrash                      // kill a node, maybe restart it later
	faultLeave                      // clean stop (leave message), maybe restart later
	faultBurst                      // one node sends a burst of messages
	faultReform                     // one node asks for a new ring of the same members (srp's Reform)
	numFaultKinds
)

func (k faultKind) String() string {
	names := [numFaultKinds]string{"partition", "isolate", "asym", "loss", "dup", "jitter", "slow", "crash", "leave", "burst", "reform"}
	if k < numFaultKinds {
		return names[k]
	}
	return fmt.Sprintf("fault%d", k)
}

// ProfileNames lists the profiles LookupProfile knows.
func ProfileNames() []string {
	return []string{"mixed", "none", "cold", "net", "partition", "crash", "stop", "heavy", "reform"}
}

// LookupProfile returns the named fault profile.
func LookupProfile(name string) (Profile, error) {
	p := Profile{Name: name, FaultsMin: 1, FaultsMax: 6, PhaseMin: 8, PhaseMax: 20}
	// Profiles that leave out the last kinds keep their seeds' plans from
	// before those kinds existed.
	//               part iso asym loss dup jit slow crash leave burst reform
	switch name {
	case "mixed":
		p.LossMax, p.DupMax = 0.03, 0.02
		p.Weights = [numFaultKinds]int{4, 3, 2, 3, 1, 1, 2, 4, 2, 2}
	case "none":
		p.FaultsMin, p.FaultsMax, p.PhaseMin, p.PhaseMax = 0, 0, 4, 8
	case "cold":
		// Every node starts within 150 ms, as daemons started "at once"
		// by a script do, then nothing happens: cold formation
		// (Result.ColdFormation).
		p.FaultsMin, p.FaultsMax, p.PhaseMin, p.PhaseMax = 0, 0, 4, 8
		p.StartWithin = 150 * time.Millisecond
	case "net":
		p.LossMax, p.DupMax = 0.10, 0.05
		p.Weights = [numFaultKinds]int{0, 0, 2, 4, 2, 3, 3, 0, 0, 2}
	case "partition":
		p.LossMax, p.DupMax = 0.01, 0.01
		p.Weights = [numFaultKinds]int{6, 3, 3, 0, 0, 0, 0, 0, 0, 1}
	case "crash":
		p.LossMax, p.DupMax = 0.01, 0.01
		p.Weights = [numFaultKinds]int{0, 0, 0, 0, 0, 0, 0, 6, 3, 1}
	case "stop":
		// Clean stops and restarts on a quiet network: every one opens
		// a formation window (formation.go).
		p.FaultsMin, p.FaultsMax = 2, 8
		p.Weights = [numFaultKinds]int{0, 0, 0, 0, 0, 1, 0, 0, 6, 1}
	case "reform":
		// Reforms on a quiet network, among clean stops and restarts:
		// each opens a formation window (formation.go), and a ring
		// re-formed on request must keep virtual synchrony like any.
		p.FaultsMin, p.FaultsMax = 2, 8
		p.Weights = [numFaultKinds]int{0, 0, 0, 0, 0, 1, 0, 0, 2, 2, 6}
	case "heavy":
		p.LossMax, p.DupMax = 0.10, 0.05
		p.FaultsMin, p.FaultsMax, p.PhaseMin, p.PhaseMax = 4, 12, 15, 30
		p.Weights = [numFaultKinds]int{4, 3, 3, 3, 1, 1, 2, 4, 2, 2}
	default:
		return Profile{}, fmt.Errorf("fault profile %q: want one of %s", name, strings.Join(ProfileNames(), ", "))
	}
	return p, nil
}
