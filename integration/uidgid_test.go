package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// TestUIDGIDLiveOnEveryEndpoint (issue 15 point 1): an unprivileged
// client is refused by cfg (totemd), cmap (cmapd), quorum and votequorum
// (quorumd) and cpg (cpgd), and each refusal is logged; after a runtime `corosync-cmapctl -s uidgid.gid.65534 u8 1`
// (what pacemakerd does for its non-root daemons) the same client is let
// into every one at once, as corosync 3.1.7 does; deleting the key shuts
// them again. Debian's tools are the clients. The same steps run against
// corosync 3.1.7 first (subtest "corosync"), then needle.
func TestUIDGIDLiveOnEveryEndpoint(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	needCmapd(t)
	t.Run("corosync", testUIDGIDCorosync)
	t.Run("needle", testUIDGIDNeedle)
}

// uidgidTool is a tool run as 65534:65534 and a line it prints only when
// the service let it in.
type uidgidTool struct {
	args []string
	in   string
}

// uidgidExpect runs every tool as 65534:65534 on nd, logs what each did
// (let in or refused, with the first line of its output) and reports a
// tool whose outcome is not allowed.
func uidgidExpect(t *testing.T, ctx context.Context, nd *harness.Node, when string, allowed bool, tools []uidgidTool) {
	t.Helper()
	for _, tl := range tools {
		args := append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, tl.args...)
		b, _ := nd.Run(ctx, args...)
		out := string(b)
		got := strings.Contains(out, tl.in)
		first := strings.TrimSpace(out)
		if i := strings.IndexByte(first, '\n'); i >= 0 {
			first = first[:i]
		}
		verdict := "refused"
		if got {
			verdict = "let in"
		}
		t.Logf("%s: %s as 65534:65534: %s (%q)", when, strings.Join(tl.args, " "), verdict, first)
		if got != allowed {
			t.Errorf("%s: %v as 65534:65534 let in=%v, want %v:\n%s", when, tl.args, got, allowed, out)
		}
	}
}

// quorumProbes are the quorum and votequorum endpoints opened directly
// (quorumwatch -probe): corosync-quorumtool opens cmap first, so a refused
// user never reaches them through it. The binary is copied where
// 65534:65534 may run it (the test binaries' directory is root's only).
func quorumProbes(t *testing.T) []uidgidTool {
	t.Helper()
	dir, err := os.MkdirTemp("", "needle-it-probe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	b, err := os.ReadFile(needQuorumwatch(t))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "quorumwatch")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return []uidgidTool{
		{[]string{bin, "-probe", "quorum"}, "quorum API: quorate="},
		{[]string{bin, "-probe", "votequorum", "-nodeid", "1"}, "votequorum API: node 1"},
	}
}

// testUIDGIDCorosync: corosync 3.1.7 on one node, the same tools and
// steps. corosync checks uidgid.uid/gid.N and uidgid.config.uid/gid.N in
// its icmap at every connection (exec/ipc_glue.c), so a runtime key acts
// at once there too.
func testUIDGIDCorosync(t *testing.T) {
	c := harness.New(t, 1)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000}); err != nil {
		t.Fatal(err)
	}
	nd := c.Nodes[0]
	var procs []*harness.Proc
	dumpOnFailure(t, &procs)
	cs := startImpl(t, "corosync", nd, &procs)
	waitMembers(t, nd, []int{1}, 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tools := []uidgidTool{
		{[]string{"corosync-cfgtool", "-s"}, "Local node ID 1"},
		{[]string{"corosync-cmapctl", "-g", "totem.cluster_name"}, "needle-it"},
		{[]string{"corosync-quorumtool", "-s"}, "Votequorum information"},
		{[]string{"corosync-cpgtool"}, "Group Name"},
	}
	tools = append(tools, quorumProbes(t)...)
	// Root is let in everywhere (the tools work here at all).
	for _, tl := range tools {
		if out, err := nd.Run(ctx, tl.args...); err != nil || !strings.Contains(string(out), tl.in) {
			t.Fatalf("%v as root: %v: %s", tl.args, err, out)
		}
	}
	denied := func() int { return strings.Count(cs.Output(), "Denied connection attempt from 65534:65534") }
	uidgidExpect(t, ctx, nd, "corosync: no uidgid key", false, tools)
	t.Logf("corosync: %d \"Denied connection attempt from 65534:65534\" lines in corosync's log", denied())
	if denied() == 0 {
		t.Errorf("corosync did not log the refusal")
	}
	if out, err := nd.Run(ctx, "corosync-cmapctl", "-s", "uidgid.gid.65534", "u8", "1"); err != nil {
		t.Fatalf("cmapctl -s: %v: %s", err, out)
	}
	uidgidExpect(t, ctx, nd, "corosync: after uidgid.gid.65534 = 1", true, tools)
	if out, err := nd.Run(ctx, "corosync-cmapctl", "-d", "uidgid.gid.65534"); err != nil {
		t.Fatalf("cmapctl -d: %v: %s", err, out)
	}
	before := denied()
	uidgidExpect(t, ctx, nd, "corosync: after deleting uidgid.gid.65534", false, tools)
	t.Logf("corosync: %d more refusals logged after the delete", denied()-before)
}

// testUIDGIDNeedle: totemd, cmapd and, when they build, quorumd and cpgd.
func testUIDGIDNeedle(t *testing.T) {
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

	tools := []uidgidTool{
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
			tools = append(tools, uidgidTool{[]string{"corosync-quorumtool", "-s"}, "Votequorum information"})
			tools = append(tools, quorumProbes(t)...)
		} else {
			t.Logf("quorumd not checked: corosync-quorumtool -s does not work for root either")
		}
	}
	if daemons["cpgd"] != "" {
		tools = append(tools, uidgidTool{[]string{"corosync-cpgtool"}, "Group Name"})
	}
	expect := func(when string, allowed bool, tools []uidgidTool) {
		t.Helper()
		uidgidExpect(t, ctx, nd, "needle: "+when, allowed, tools)
	}
	expect("no uidgid key", false, tools)
	for _, p := range procs {
		n := strings.Count(p.Output(), "Denied connection attempt from 65534:65534")
		t.Logf("needle: %d \"Denied connection attempt from 65534:65534\" lines in %s's log", n, p.Name)
		if n == 0 {
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
