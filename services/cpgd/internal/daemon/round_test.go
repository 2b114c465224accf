package daemon

import (
	"testing"

	"github.com/needle-cluster/needle/libs/svchost"
)

// A per-service round reaches the core as one: its zombie rule spares
// the members that take no part (corosync nodes).
func TestRoundKind(t *testing.T) {
	if round(svchost.SyncRound{Kind: svchost.FullSync}).Service {
		t.Error("a full round reached the core as a per-service one")
	}
	if !round(svchost.SyncRound{Kind: svchost.ServiceSync}).Service {
		t.Error("a per-service round reached the core as a full one")
	}
}
