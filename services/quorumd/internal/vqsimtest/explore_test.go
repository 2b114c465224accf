package vqsimtest

import (
	"maps"
	"testing"
	"time"
)

// TestExplorerContainsOrderings: without vqsim, the Explorer's possible
// states after every step of seeds 1..30 include the states of the two
// orderings the Model can run vqsim-like (every node sends and activates
// in partition order, or in reverse order, before any NODEINFO of the
// round lands): the Explorer is a superset of known orderings, so a pass
// against vqsim is not a matter of luck in the model's order.
func TestExplorerContainsOrderings(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		sc := Generate(seed)
		for _, reverse := range []bool{false, true} {
			m, err := NewModel(sc, true)
			if err != nil {
				continue // start-up error: compared against vqsim's text
			}
			m.reverse = reverse
			ex, err := NewExplorer(sc)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			now := time.Duration(0)
			for i, st := range sc.All() {
				now += 100 * time.Millisecond
				if st.Kind == "wait" {
					now += time.Duration(st.Ms) * time.Millisecond
				}
				if err := m.Advance(now); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, i, err)
				}
				if err := ex.Advance(now); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, i, err)
				}
				if err := m.Apply(st); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, i, err)
				}
				rounds, err := ex.Plan(st)
				if err != nil {
					t.Fatalf("seed %d step %d: %v", seed, i, err)
				}
				ok, possible, err := ex.Explore(rounds, m.View(), now)
				if err == errUnbounded {
					break
				}
				if err != nil {
					t.Fatalf("seed %d step %d %q: %v", seed, i, st.Command(), err)
				}
				if !ok {
					t.Fatalf("seed %d step %d %q (reverse %v): the model's %s is not among the Explorer's %s",
						seed, i, st.Command(), reverse, showViews(m.View()), possible)
				}
			}
		}
	}
}

// TestExplorerBranches: seed 453's third step ("up 0:8": node 8 returns
// with expected_votes 2 from its configuration beside node 5, which
// learnt expected votes 4) has two outcomes in vqsim: node 8 reads node
// 5's NODEINFO before its timer and multicasts its own with the quorate
// flag, which lowers node 5's expected votes (both quorate), or it sends
// first (node 5 stays inquorate). Both must be possible, nothing else.
func TestExplorerBranches(t *testing.T) {
	sc := Generate(453)
	ex, err := NewExplorer(sc)
	if err != nil {
		t.Fatal(err)
	}
	all := func(uint32, nodeState) bool { return true }
	for i, st := range sc.All()[:len(sc.Boot)+3] {
		rounds, err := ex.Plan(st)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var next []*world
		for _, w := range ex.worlds {
			acc := []map[uint32]nodeState{{}}
			for id, n := range w.nodes {
				acc[0][id] = n
			}
			for _, r := range rounds {
				outs, err := ex.round(w, r, 0, nil, all)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				var prod []map[uint32]nodeState
				for _, a := range acc {
					for _, o := range outs {
						m := maps.Clone(a)
						maps.Copy(m, o)
						prod = append(prod, m)
					}
				}
				acc = prod
			}
			for _, m := range acc {
				next = append(next, &world{nodes: m})
			}
		}
		ex.worlds = next
		ex.dedupe()
	}
	got := map[string]bool{}
	for _, w := range ex.worlds {
		got[viewKey(w)] = true
	}
	want := map[string]bool{"5:q=false 8:q=true ": true, "5:q=true 8:q=true ": true}
	if len(got) != len(want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("outcomes %v, want %v", got, want)
		}
	}
}
