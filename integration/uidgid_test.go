package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// quorumdFollowsCmap: quorumd writes its runtime.votequorum.* keys again
// into a restarted cmapd (svchost.CmapFollower); set it when it does.
const quorumdFollowsCmap = false

// TestUIDGIDLiveOnEveryEndpoint (issue 15 point 1): an unprivileged
// client is refused by cfg (totemd), cmap (cmapd), quorum and votequorum
// (quorumd) and cpg (cpgd), and each refusal is logged; after a runtime `corosync-cmapctl -s uidgid.gid.65534 u8 1`
// (what pacemakerd does for its non-root daemons) the same client is let
// into every one at once, as corosync 3.1.7 does; deleting the key shuts
// them again. Debian's tools are the clients.
func TestUIDGIDLiveOnEveryEndpoint(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	needCmapd(t)
	// quorumd and cpgd join when they build (they are younger than this
	// test); the tools they serve are then checked too.
	daemons := map[string]string{}
	if haveCpgd(t) {
		daemons["cpgd"] = cpgdBin.path
	}
	quorumd := filepath.Join(t.TempDir(), "quorumd")
	if out, err := exec.Command("go", "build", "-o", quorumd, "../services/quorumd").CombinedOutput(); err == nil {
		daemons["quorumd"] = quorumd
	} else {
		t.Logf("quorumd not checked: go build: %v: %s", err, out)
	}
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
	for name, bin := range daemons {
		p, err := nd.Start(name, bin, "-f")
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	waitRing(t, "1", 20*time.Second, totem)
	waitMembers(t, nd, []int{1}, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	nobody := func(tool ...string) (string, bool) {
		args := append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, tool...)
		out, err := nd.Run(ctx, args...)
		return string(out), err == nil
	}
	// Each tool and a line it prints only when the service let it in.
	type tool struct {
		args []string
		in   string
	}
	tools := []tool{
		{[]string{"corosync-cfgtool", "-s"}, "Local node ID 1"},
		{[]string{"corosync-cmapctl", "-g", "totem.cluster_name"}, "needle-it"},
	}
	if daemons["quorumd"] != "" {
		// quorumtool also needs the runtime keys quorumd writes into
		// cmap; wait until it works for root.
		ready := false
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if out, _ := nd.Run(ctx, "corosync-quorumtool", "-s"); strings.Contains(string(out), "Votequorum information") {
				ready = true
				break
			}
		}
		if ready {
			tools = append(tools, tool{[]string{"corosync-quorumtool", "-s"}, "Votequorum information"})
		} else {
			t.Logf("quorumd not checked: corosync-quorumtool -s does not work for root either")
		}
	}
	if daemons["cpgd"] != "" {
		tools = append(tools, tool{[]string{"corosync-cpgtool"}, "Group Name"})
	}
	expect := func(when string, allowed bool, tools []tool) {
		t.Helper()
		for _, tl := range tools {
			out, _ := nobody(tl.args...)
			if got := strings.Contains(out, tl.in); got != allowed {
				t.Errorf("%s: %v as 65534:65534 let in=%v, want %v:\n%s", when, tl.args, got, allowed, out)
			}
		}
	}
	expect("no uidgid key", false, tools)
	for _, p := range procs {
		// corosync-quorumtool opens cmap first, so a refused user never
		// reaches quorumd: its refusal cannot be seen from here.
		if p.Name == "quorumd" {
			continue
		}
		if !strings.Contains(p.Output(), "Denied connection attempt from 65534:65534") {
			t.Errorf("%s did not log the refusal", p.Name)
		}
	}
	if out, err := nd.Run(ctx, "corosync-cmapctl", "-s", "uidgid.gid.65534", "u8", "1"); err != nil {
		t.Fatalf("cmapctl -s: %v: %s", err, out)
	}
	expect("after uidgid.gid.65534 = 1", true, tools)
	if out, err := nd.Run(ctx, "corosync-cmapctl", "-d", "uidgid.gid.65534"); err != nil {
		t.Fatalf("cmapctl -d: %v: %s", err, out)
	}
	expect("after deleting uidgid.gid.65534", false, tools)

	// A restarted cmapd knows only the file: every daemon mirrors it
	// again after its hello, and follows its writes. (corosync-quorumtool
	// also needs the runtime.votequorum.* keys quorumd writes into cmap,
	// which a new cmapd lacks until quorumd writes them again: checked
	// here only once quorumd implements svchost.CmapFollower.)
	after := tools
	if !quorumdFollowsCmap {
		after = slices.DeleteFunc(slices.Clone(tools), func(tl tool) bool { return tl.args[0] == "corosync-quorumtool" })
	}
	if out, err := nd.Run(ctx, "corosync-cmapctl", "-s", "uidgid.gid.65534", "u8", "1"); err != nil {
		t.Fatalf("cmapctl -s: %v: %s", err, out)
	}
	if err := cmapd.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	cmapd2, err := nd.Start("cmapd-restarted", cmapBins.cmapd, "-f")
	if err != nil {
		t.Fatal(err)
	}
	procs = append(procs, cmapd2)
	waitMembers(t, nd, []int{1}, 10*time.Second)
	expect("after cmapd restarted without the runtime key", false, after)
	if out, err := nd.Run(ctx, "corosync-cmapctl", "-s", "uidgid.gid.65534", "u8", "1"); err != nil {
		t.Fatalf("cmapctl -s: %v: %s", err, out)
	}
	expect("after uidgid.gid.65534 = 1 on the restarted cmapd", true, after)
}
