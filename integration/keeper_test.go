package integration

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// TestRestartKeepsClientsWaiting: while quorumd restarts, totemd keeps
// its libqb sockets (ipcproto's keeper), so Debian's corosync-quorumtool
// started in the gap waits for the new quorumd and prints the status,
// instead of failing with "Cannot initialize QUORUM service" as it would
// against a socket nobody holds.
func TestRestartKeepsClientsWaiting(t *testing.T) {
	nq := needleQuorumCluster(t, 1, harness.ConfOptions{Token: 1000})
	nd := nq.c.Nodes[0]
	waitRing(t, "1", 20*time.Second, nq.totemd[0])
	waitQuorumtool(t, debianQuorumtool, 0, 1, 20*time.Second, nd)
	if err := nq.quorumd[0].Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := nodeCmd(ctx, nd, "corosync-quorumtool", "-s")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("corosync-quorumtool returned while quorumd was down (%v):\n%s", err, out.String())
	case <-time.After(time.Second):
	}
	nq.startQuorumd(t, 0)
	select {
	case err := <-done:
		// Exit status 1 is corosync-quorumtool's "not quorate" (the new
		// quorumd may answer before its first round); anything else, or
		// an initialisation error, is a failure.
		if err != nil && cmd.ProcessState.ExitCode() != 1 || !strings.Contains(out.String(), "Quorum information") {
			t.Fatalf("corosync-quorumtool after the restart: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("corosync-quorumtool still waiting 20 s after quorumd came back")
	}
	t.Logf("corosync-quorumtool -s started while quorumd was down:\n%s", out.String())
}
