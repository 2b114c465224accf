package node

import (
	"context"
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
