package node

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// tokenTimeouts sums the token timeouts the given nodes have waited out.
func (tc *testCluster) tokenTimeouts(t *testing.T, idx ...int) uint64 {
	t.Helper()
	var sum uint64
	for _, i := range idx {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := tc.nodes[i].Status(ctx)
		cancel()
		if err != nil {
			t.Fatalf("node %d status: %v", i+1, err)
		}
		sum += st.Counters.TokenTimeouts
	}
	return sum
}

// TestCleanStopsAreNotCrashes stops a node by cancelling its context, as
// SIGTERM does, again and again: each time the leave must reach the
// survivors, which then re-form at once instead of waiting out the token
// timeout. The leave used to race the transport closing its sockets on the
// same cancellation.
func TestCleanStopsAreNotCrashes(t *testing.T) {
	tc := startCluster(t, 3)
	all, rest := []srp.NodeID{1, 2, 3}, []srp.NodeID{1, 2}
	tc.waitMembers(t, all, 0, 1, 2)
	cfg := tc.cfgs[0].SRP
	crashes := 0
	const rounds = 12
	for round := range rounds {
		before := tc.tokenTimeouts(t, 0, 1)
		stopped := time.Now()
		tc.stop(2)
		tc.waitMembers(t, rest, 0, 1)
		took := time.Since(stopped)
		if tc.tokenTimeouts(t, 0, 1) != before {
			crashes++
			t.Errorf("round %d: the survivors waited out a token timeout (%v after the stop): the leave did not reach them", round, took)
		} else if took > cfg.Join+cfg.Consensus {
			t.Logf("round %d: new ring only %v after the stop (join + consensus = %v)", round, took, cfg.Join+cfg.Consensus)
		}
		tc.start(t, 2)
		tc.waitMembers(t, all, 0, 1, 2)
	}
	if crashes > 0 {
		t.Logf("%d of %d clean stops handled as crashes", crashes, rounds)
	}
}

// TestBrokenInvariantStopsTheNode: a node whose srp finds its own state
// broken (Faults.BreakAru, on its first token visit after joining) leaves
// the ring and Run returns the broken invariant, so the daemon exits and
// its service manager starts a fresh one; the others re-form on its leave
// message without waiting out the token.
func TestBrokenInvariantStopsTheNode(t *testing.T) {
	tc := startCluster(t, 3)
	all, rest := []srp.NodeID{1, 2, 3}, []srp.NodeID{1, 2}
	tc.waitMembers(t, all, 0, 1, 2)
	tc.stop(2)
	tc.waitMembers(t, rest, 0, 1)
	before := tc.tokenTimeouts(t, 0, 1)
	tc.cfgs[2].SRP.Faults.BreakAru = true
	tc.start(t, 2)
	select {
	case err := <-tc.done[2]:
		tc.cancel[2] = nil
		if !errors.Is(err, srp.ErrInvariant) {
			t.Fatalf("Run returned %v, want the broken invariant", err)
		}
		t.Logf("node 3: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the broken node kept running")
	}
	tc.waitMembers(t, rest, 0, 1)
	if after := tc.tokenTimeouts(t, 0, 1); after != before {
		t.Errorf("the others waited out %d token timeouts: the broken node's leave did not reach them", after-before)
	}
}
