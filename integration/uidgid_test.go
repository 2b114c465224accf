package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// TestUIDGIDLiveOnEveryEndpoint (issue 15 point 1): an unprivileged
// client is refused by cfg (totemd) and cmap (cmapd), and each refusal is
// logged; after a runtime `corosync-cmapctl -s uidgid.gid.65534 u8 1`
// (what pacemakerd does for its non-root daemons) the same client is let
// into both at once, as corosync 3.1.7 does; deleting the key shuts both
// again. Debian's tools are the clients.
func TestUIDGIDLiveOnEveryEndpoint(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	needCmapd(t)
	c := harness.New(t, 1)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000}); err != nil {
		t.Fatal(err)
	}
	nd := c.Nodes[0]
	var procs []*harness.Proc
	dumpOnFailure(t, &procs)
	totem := startTotemd(t, nd)
	procs = append(procs, totem)
	cmapd, err := nd.Start("cmapd", cmapBins.cmapd, "-f")
	if err != nil {
		t.Fatal(err)
	}
	procs = append(procs, cmapd)
	waitRing(t, "1", 20*time.Second, totem)
	waitMembers(t, nd, []int{1}, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	nobody := func(tool ...string) (string, bool) {
		args := append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, tool...)
		out, err := nd.Run(ctx, args...)
		return string(out), err == nil
	}
	cfgArgs := []string{"corosync-cfgtool", "-s"}
	cmapArgs := []string{"corosync-cmapctl", "-g", "totem.cluster_name"}
	expect := func(when string, allowed bool) {
		t.Helper()
		for _, args := range [][]string{cfgArgs, cmapArgs} {
			out, ok := nobody(args...)
			if ok != allowed {
				t.Errorf("%s: %v as 65534:65534 succeeded=%v, want %v:\n%s", when, args, ok, allowed, out)
			}
		}
	}
	expect("no uidgid key", false)
	for _, p := range []*harness.Proc{totem, cmapd} {
		if !strings.Contains(p.Output(), "Denied connection attempt from 65534:65534") {
			t.Errorf("%s did not log the refusal", p.Name)
		}
	}
	if out, err := nd.Run(ctx, "corosync-cmapctl", "-s", "uidgid.gid.65534", "u8", "1"); err != nil {
		t.Fatalf("cmapctl -s: %v: %s", err, out)
	}
	expect("after uidgid.gid.65534 = 1", true)
	if out, err := nd.Run(ctx, "corosync-cmapctl", "-d", "uidgid.gid.65534"); err != nil {
		t.Fatalf("cmapctl -d: %v: %s", err, out)
	}
	expect("after deleting uidgid.gid.65534", false)
}
