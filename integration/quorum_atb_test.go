package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// TestQuorumdAutoTieBreaker (issue 10, point 5): four needle nodes with
// auto_tie_breaker split 2|2; exactly the side the tie-breaker names stays
// quorate — the one with node 1 (lowest), with node 4 (highest), or with
// the first listed node present (a list "3 1") — and Debian's
// corosync-quorumtool says so on every node; healing makes all quorate.
func TestQuorumdAutoTieBreaker(t *testing.T) {
	needNamespaces(t)
	needQuorumtool(t)
	cases := []struct {
		node    string
		winners []int // node indexes of the side that keeps quorum
	}{
		{"lowest", []int{0, 1}},
		{"highest", []int{2, 3}},
		{"3 1", []int{2, 3}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.node, " ", "_"), func(t *testing.T) {
			o := harness.ConfOptions{Token: 1000,
				Quorum: "provider: corosync_votequorum\n\tauto_tie_breaker: 1\n\tauto_tie_breaker_node: " + tc.node}
			nq := needleQuorumCluster(t, 4, o)
			waitRing(t, "1 2 3 4", 30*time.Second, nq.totemd...)
			waitQuorumtool(t, debianQuorumtool, 0, 4, 30*time.Second, nq.c.Nodes...)
			if err := nq.c.Partition([]int{2, 3}); err != nil {
				t.Fatal(err)
			}
			var win, lose []*harness.Node
			for i, nd := range nq.c.Nodes {
				if tc.winners[0] == i || tc.winners[1] == i {
					win = append(win, nd)
				} else {
					lose = append(lose, nd)
				}
			}
			d := waitQuorumtool(t, debianQuorumtool, 0, 2, 30*time.Second, win...)
			waitQuorumtool(t, debianQuorumtool, 2, 2, 30*time.Second, lose...)
			r := quorumtool(t, win[0], debianQuorumtool, "-s")
			if !strings.Contains(r.Stdout, "AutoTieBreaker") {
				t.Errorf("winning side's flags lack AutoTieBreaker:\n%s", r.Stdout)
			}
			t.Logf("auto_tie_breaker_node %s: nodes %d and %d keep quorum (%v after the split)", tc.node,
				win[0].Index+1, win[1].Index+1, d.Round(100*time.Millisecond))
			if err := nq.c.Heal(); err != nil {
				t.Fatal(err)
			}
			waitQuorumtool(t, debianQuorumtool, 0, 4, 30*time.Second, nq.c.Nodes...)
		})
	}
}

// TestQuorumdLastManStanding (issue 10, point 5): five needle nodes with
// last_man_standing (window 2 s) lose one node at a time; after each
// window the survivors' expected votes step down 5 → 4 → 3 → 2, and they
// stay quorate throughout, down to two nodes.
func TestQuorumdLastManStanding(t *testing.T) {
	needNamespaces(t)
	needQuorumtool(t)
	o := harness.ConfOptions{Token: 1000,
		Quorum: "provider: corosync_votequorum\n\tlast_man_standing: 1\n\tlast_man_standing_window: 2000"}
	nq := needleQuorumCluster(t, 5, o)
	waitRing(t, "1 2 3 4 5", 30*time.Second, nq.totemd...)
	waitQuorumtool(t, debianQuorumtool, 0, 5, 30*time.Second, nq.c.Nodes...)
	var cut [][]int
	for step, left := range []int{4, 3, 2} {
		cut = append(cut, []int{left})
		if err := nq.c.Partition(cut...); err != nil {
			t.Fatal(err)
		}
		stay := nq.c.Nodes[:left]
		want := "Expected votes:   " + string(rune('0'+left)) + "\n"
		d := waitTool(t, debianQuorumtool, []string{"-s"}, func(r ctlResult) bool {
			return r.Code == 0 && strings.Contains(r.Stdout, want)
		}, 30*time.Second, stay...)
		t.Logf("step %d: %d nodes left, quorate with expected votes %d after %v", step+1, left, left, d.Round(100*time.Millisecond))
	}
	r := quorumtool(t, nq.c.Nodes[0], debianQuorumtool, "-s")
	if !strings.Contains(r.Stdout, "LastManStanding") {
		t.Errorf("flags lack LastManStanding:\n%s", r.Stdout)
	}
}
