package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// TestNeedleCfgtool drives needle's cfg service with Debian's unmodified
// corosync-cfgtool and with ours: node addresses, then KILLNODE of node 3,
// which must exit with status 255 while the others re-form without it.
func TestNeedleCfgtool(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	ours := filepath.Join(bins.dir, "cfgtool")
	if out, err := exec.Command("go", "build", "-o", ours, "../services/totemd/cmd/cfgtool").CombinedOutput(); err != nil {
		t.Fatalf("build cfgtool: %v: %s", err, out)
	}
	c, procs := needleCluster(t, 3, harness.ConfOptions{Token: 1000})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tool := range []string{"corosync-cfgtool", ours} {
		out, err := c.Nodes[0].Run(ctx, tool, "-a", "2")
		if err != nil || strings.TrimSpace(string(out)) != "10.231.0.2" {
			t.Fatalf("%s -a 2: %q %v", tool, out, err)
		}
	}
	out, err := c.Nodes[0].Run(ctx, "corosync-cfgtool", "-k", "3")
	if err != nil || !strings.Contains(string(out), "Killing node 3") {
		t.Fatalf("corosync-cfgtool -k 3: %q %v", out, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !procs[2].Exited() {
		if time.Now().After(deadline) {
			t.Fatal("node 3 still running after KILLNODE")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := procs[2].ExitCode(); code != 255 {
		t.Fatalf("node 3 exit status %d, want 255", code)
	}
	waitRing(t, "1 2", 20*time.Second, procs[0], procs[1])
}
