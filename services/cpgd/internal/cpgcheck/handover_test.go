package cpgcheck

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestHandoverChangesNothing runs seeds with and without handovers: the
// successor's core behaves exactly as its predecessor's would have, and
// handovers draw from their own generator, so the two histories (every
// step, client request and status, ring change, every multicast and event
// of every core) must be the same.
func TestHandoverChangesNothing(t *testing.T) {
	first, last := uint64(1), uint64(12)
	if testing.Short() {
		last = 4
	}
	if *seedFlag != 0 {
		first, last = *seedFlag, *seedFlag
	}
	handovers := 0
	for seed := first; seed <= last; seed++ {
		run := func(rate float64) ([]string, Stats, []string) {
			var lines []string
			opt := options(seed)
			opt.HandoverRate = rate
			opt.Trace = func(s string) {
				if !strings.Contains(s, " handover node ") {
					lines = append(lines, s)
				}
			}
			opt.Output = func(node uint32, out any) {
				lines = append(lines, fmt.Sprintf("node %d wants %T %v", node, out, out))
			}
			sim := New(opt)
			v := sim.Run()
			return lines, sim.Stats, v
		}
		plain, plainStats, v1 := run(0)
		with, withStats, v2 := run(options(seed).HandoverRate)
		handovers += withStats.Handovers
		withStats.Handovers, withStats.HandoverWaits = 0, 0
		if len(v1)+len(v2) > 0 {
			t.Fatalf("seed %d: violations without handovers %v, with %v\n\treplay: go test ./services/cpgd/internal/cpgcheck -run '%s$' -seed %d -v", seed, v1, v2, t.Name(), seed)
		}
		if plainStats != withStats {
			t.Errorf("seed %d: stats without handovers %+v, with %+v", seed, plainStats, withStats)
		}
		if i := firstDiff(plain, with); i >= 0 {
			t.Errorf("seed %d: the histories part at trace line %d:\n\twithout handovers: %s\n\twith handovers:    %s\n\treplay: go test ./services/cpgd/internal/cpgcheck -run '%s$' -seed %d -v",
				seed, i, at(plain, i), at(with, i), t.Name(), seed)
		}
	}
	n := int(last - first + 1)
	if handovers < n && *seedFlag == 0 {
		t.Errorf("%d handovers in %d seeds: the histories no longer reach quiet cores", handovers, n)
	}
	t.Logf("%d seeds, %d handovers", n, handovers)
}

func firstDiff(a, b []string) int {
	for i := range max(len(a), len(b)) {
		if at(a, i) != at(b, i) {
			return i
		}
	}
	if !slices.Equal(a, b) {
		return min(len(a), len(b))
	}
	return -1
}

func at(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return fmt.Sprintf("(end after %d lines)", len(l))
}
