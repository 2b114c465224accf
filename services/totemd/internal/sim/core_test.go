package sim

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// TestBrokenCoresAreCaught runs the real core with each deliberate protocol
// bug and requires the checker to name the invariant it breaks within a few
// seeds.
func TestBrokenCoresAreCaught(t *testing.T) {
	tests := []struct {
		name    string
		faults  srp.Faults
		profile string
		want    Kind
	}{
		{"ReorderDelivery", srp.Faults{ReorderDelivery: true}, "net", KindOrder},
		{"SkipRetransmit", srp.Faults{SkipRetransmit: true}, "net", KindLiveness},
		{"SkipOldRingFlush", srp.Faults{SkipOldRingFlush: true}, "net", KindSynchrony},
		// A corrupted state: srp's own invariants catch it, the node leaves.
		{"BreakAru", srp.Faults{BreakAru: true}, "net", KindInvariant},
	}
	const maxSeeds = 12
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prof, err := LookupProfile(tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			for seed := uint64(1); seed <= maxSeeds; seed++ {
				res := Run(Options{Seed: seed, Nodes: 3 + int(seed%3), Profile: prof, CoreFaults: tc.faults})
				if slices.ContainsFunc(res.Violations, func(v Violation) bool { return v.Kind == tc.want }) {
					t.Logf("seed %d: %v", seed, res.Violations[0])
					return
				}
			}
			t.Errorf("no %s violation in %d seeds with Faults %+v", tc.want, maxSeeds, tc.faults)
		})
	}
}

// TestRealCoreSeeds runs the real core over a fixed set of seeds with mixed
// faults and small to medium rings; every seed must pass. A failure prints
// the command that replays the seed with a trace.
func TestRealCoreSeeds(t *testing.T) {
	seeds := uint64(120)
	if testing.Short() {
		seeds = 30
	}
	prof, err := LookupProfile("mixed")
	if err != nil {
		t.Fatal(err)
	}
	nodes := NodeRange{3, 12}
	failed := 0
	for seed := uint64(1); seed <= seeds; seed++ {
		res := Run(Options{Seed: seed, Nodes: nodes.Pick(seed), Profile: prof})
		if res.Total == 0 {
			continue
		}
		failed++
		t.Errorf("seed %d, %d nodes: %d violation(s), first: %v\n\treplay: %s",
			seed, res.Nodes, res.Total, res.Violations[0], res.ReplayCommand())
	}
	if failed > 0 {
		t.Logf("%d of %d seeds failed", failed, seeds)
	}
}

// TestRealCoreTraceDoesNotChangeTheRun: the replay command adds -trace (and
// the core's debug log), which must not change the schedule it replays.
func TestRealCoreTraceDoesNotChangeTheRun(t *testing.T) {
	prof, err := LookupProfile("mixed")
	if err != nil {
		t.Fatal(err)
	}
	var trace strings.Builder
	plain := Run(Options{Seed: 11, Nodes: 5, Profile: prof})
	traced := Run(Options{Seed: 11, Nodes: 5, Profile: prof, Trace: &trace})
	if plain.Events != traced.Events || plain.End != traced.End || plain.Delivered != traced.Delivered {
		t.Fatalf("traced run differs: %d events to %v, %d deliveries; untraced %d to %v, %d",
			traced.Events, traced.End, traced.Delivered, plain.Events, plain.End, plain.Delivered)
	}
	if !strings.Contains(trace.String(), "CONF regular") {
		t.Fatal("trace has no configuration lines")
	}
}

// TestRegressionSeeds replays seeds that once failed: the three of the
// last long soak (liveness after the heal on 8, 59 and 62 nodes) and the
// bounded-formation failures — a node stuck in COMMIT until its token loss
// while the others gathered (none), clean stops that waited for a token
// loss or a consensus timeout (stop), and the same at cold start with all
// nodes at once (cold). The large rings are skipped with -short.
func TestRegressionSeeds(t *testing.T) {
	for _, tc := range []struct {
		seed    uint64
		nodes   int
		profile string
		large   bool
	}{
		{221220, 8, "mixed", false},
		{230002, 59, "mixed", true},
		{234511, 62, "mixed", true},
		{3, 16, "none", false},
		{11, 16, "none", false},
		{12, 32, "none", true},
		{8, 8, "stop", false},
		{33, 8, "stop", false},
		{6, 16, "stop", false},
		{1, 32, "cold", true},
	} {
		t.Run(fmt.Sprintf("seed%d-nodes%d-%s", tc.seed, tc.nodes, tc.profile), func(t *testing.T) {
			if tc.large && testing.Short() {
				t.Skip("large ring")
			}
			prof, err := LookupProfile(tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			res := Run(Options{Seed: tc.seed, Nodes: tc.nodes, Profile: prof})
			for _, v := range res.Violations {
				t.Errorf("%v", v)
			}
			if res.Total > 0 {
				t.Logf("replay: %s", res.ReplayCommand())
			}
		})
	}
}
