package sim

import (
	"os"
	"strings"
	"testing"
)

// TestWholeNodeSeeds runs whole-node simulations (node stacks with
// simulated service daemons that attach, multicast with TryAgain, take
// part in sync, detach, crash and restart) over a few dozen seeds and
// ring sizes, and wants no violation.
func TestWholeNodeSeeds(t *testing.T) {
	seeds := 24
	if testing.Short() {
		seeds = 6
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		n := 3 + int(seed%4)
		r := RunWhole(WholeOptions{Seed: 700000 + seed, Nodes: n})
		if r.Total > 0 {
			var b strings.Builder
			for _, v := range r.Violations {
				b.WriteString("\n  " + v.String())
			}
			t.Errorf("seed %d, %d nodes: %d violations:%s\nreplay: %s", r.Seed, r.Nodes, r.Total, b.String(), r.ReplayCommand())
			continue
		}
		if r.Formed == 0 || r.Accepted == 0 || r.Delivered == 0 || r.Restarts == 0 || r.Rounds == 0 {
			t.Errorf("seed %d: a run that tested little: %+v", r.Seed, r)
		}
	}
}

// TestWholeNodeTrace replays one run with a trace (WHOLE_TRACE=1 prints it).
func TestWholeNodeTrace(t *testing.T) {
	var b strings.Builder
	r := RunWhole(WholeOptions{Seed: 700001, Nodes: 3, Trace: &b})
	if os.Getenv("WHOLE_TRACE") != "" {
		t.Log(b.String())
	}
	if b.Len() == 0 || r.Total > 0 {
		t.Fatalf("trace %d bytes, %d violations", b.Len(), r.Total)
	}
}
