package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// startImpl starts the cluster software impl ("corosync", or needle's
// totemd and cmapd) on nd and returns the process whose log shows the
// ring's memberships.
func startImpl(t *testing.T, impl string, nd *harness.Node, procs *[]*harness.Proc) *harness.Proc {
	t.Helper()
	if impl == "corosync" {
		p, err := nd.Start("corosync", "corosync", "-f")
		if err != nil {
			t.Fatal(err)
		}
		*procs = append(*procs, p)
		return p
	}
	totem := startTotemd(t, nd)
	cmapd, err := nd.Start("cmapd", cmapBins.cmapd, "-f")
	if err != nil {
		t.Fatal(err)
	}
	*procs = append(*procs, totem, cmapd)
	return totem
}

// implCluster builds n nodes with o and starts impl on each; it returns
// the cluster and, per node, the process whose log shows memberships.
func implCluster(t *testing.T, impl string, n int, o harness.ConfOptions, procs *[]*harness.Proc) (*harness.Cluster, []*harness.Proc) {
	t.Helper()
	c := harness.New(t, n)
	if err := c.WriteConf(o); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, procs)
	var ring []*harness.Proc
	for _, nd := range c.Nodes {
		ring = append(ring, startImpl(t, impl, nd, procs))
	}
	return c, ring
}

// cmapNode starts a one-node cluster of impl (token 1000) and waits for
// its membership; it returns the cluster, the node and the process that
// serves cmap there (corosync itself, or needle's cmapd).
func cmapNode(t *testing.T, impl string) (*harness.Cluster, *harness.Node, *harness.Proc) {
	t.Helper()
	var procs []*harness.Proc
	c, ring := implCluster(t, impl, 1, harness.ConfOptions{Token: 1000}, &procs)
	nd := c.Nodes[0]
	waitMembers(t, nd, []int{1}, 30*time.Second)
	server := ring[0]
	for _, p := range procs {
		if p.Name == "cmapd" {
			server = p
		}
	}
	return c, nd, server
}

// onBoth runs steps on Debian's corosync first, then on needle (totemd
// and cmapd), as subtests named after each.
func onBoth(t *testing.T, steps func(t *testing.T, impl string)) {
	needNamespaces(t)
	needCorosync(t)
	needCmapd(t)
	for _, impl := range []string{"corosync", "needle"} {
		t.Run(impl, func(t *testing.T) { steps(t, impl) })
	}
}

// newMemberships counts the memberships a log reports (both corosync and
// totemd log "A new membership (R) was formed").
func newMemberships(p *harness.Proc) int { return strings.Count(p.Output(), "A new membership (") }

// TestReloadAppliesTotemToken (issue 15, point 2): a token timeout raised
// by editing corosync.conf and `corosync-cfgtool -R` is in force at once,
// reported by runtime.config.totem.token, and a node paused for longer
// than the old timeout but shorter than the new one costs no membership
// change. The same steps run against corosync 3.1.7 first.
func TestReloadAppliesTotemToken(t *testing.T) {
	onBoth(t, func(t *testing.T, impl string) {
		var procs []*harness.Proc
		c, ring := implCluster(t, impl, 3, harness.ConfOptions{Token: 1000}, &procs)
		for _, nd := range c.Nodes {
			waitMembers(t, nd, []int{1, 2, 3}, 30*time.Second)
		}
		waitValue(t, c.Nodes[0], "runtime.config.totem.token", "1650\n", 10*time.Second)

		if err := c.WriteConf(harness.ConfOptions{Token: 5000}); err != nil {
			t.Fatal(err)
		}
		if r := ctl(t, c.Nodes[0], "corosync-cfgtool", "-R"); r.Code != 0 {
			t.Fatalf("corosync-cfgtool -R: %s", r)
		}
		for _, nd := range c.Nodes {
			waitValue(t, nd, "runtime.config.totem.token", "5650\n", 10*time.Second)
		}
		time.Sleep(time.Second) // a few rotations: every token timer re-armed
		before := newMemberships(ring[0])
		// Paused for 3 s: lost under the old 1650 ms, kept under 5650.
		pid := ring[2].PID()
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if n := newMemberships(ring[0]) - before; n != 0 {
			t.Fatalf("%s: %d membership changes after a 3 s pause with token 5650 ms", impl, n)
		}
		waitMembers(t, c.Nodes[0], []int{1, 2, 3}, 5*time.Second)
		t.Logf("%s: token 1650 → 5650 ms by reload; a 3 s pause of node 3 changed no membership", impl)
	})
}

// TestReloadAddsNode (issue 15, point 2): a node added to the nodelist of
// a running two-node ring by `corosync-cfgtool -R` joins it when it
// starts (udpu: the running nodes must start sending to it and hearing
// it). The same steps against corosync 3.1.7 first.
func TestReloadAddsNode(t *testing.T) {
	onBoth(t, func(t *testing.T, impl string) {
		o := harness.ConfOptions{Token: 1000}
		var procs []*harness.Proc
		c, ring := implCluster(t, impl, 2, o, &procs)
		waitMembers(t, c.Nodes[0], []int{1, 2}, 30*time.Second)
		nd3, err := c.AddNode()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteConf(o); err != nil { // now with node 3, on every node
			t.Fatal(err)
		}
		if r := ctl(t, c.Nodes[0], "corosync-cfgtool", "-R"); r.Code != 0 {
			t.Fatalf("corosync-cfgtool -R: %s", r)
		}
		waitValue(t, c.Nodes[1], "nodelist.node.2.nodeid", "3\n", 10*time.Second)
		ring = append(ring, startImpl(t, impl, nd3, &procs))
		for _, nd := range c.Nodes {
			waitMembers(t, nd, []int{1, 2, 3}, 30*time.Second)
		}
		if impl == "needle" && !strings.Contains(ring[0].Output(), fmt.Sprintf("adding new UDPU member {%s}", nd3.Addr)) {
			t.Errorf("node 1's totemd did not log the new member")
		}
	})
}

// TestReloadAppliesLogging (issue 15, point 2): `logging { debug: on }`
// reloaded by corosync-cfgtool -R is in force at once. corosync 3.1.7
// (subtest corosync, run first) logs debug lines from then on; on needle it
// reaches every daemon of the node: totemd, cmapd and quorumd log at debug
// level (a client connecting is a debug line in each).
func TestReloadAppliesLogging(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	needCmapd(t)
	t.Run("corosync", func(t *testing.T) {
		var procs []*harness.Proc
		c, ring := implCluster(t, "corosync", 1, harness.ConfOptions{Token: 1000}, &procs)
		waitMembers(t, c.Nodes[0], []int{1}, 20*time.Second)
		reloadDebug(t, "corosync", c, []*harness.Proc{ring[0]})
	})
	t.Run("needle", func(t *testing.T) {
		nq := needleQuorumCluster(t, 1, harness.ConfOptions{Token: 1000})
		waitRing(t, "1", 20*time.Second, nq.totemd[0])
		waitMembers(t, nq.c.Nodes[0], []int{1}, 10*time.Second)
		reloadDebug(t, "needle", nq.c, []*harness.Proc{nq.totemd[0], nq.cmapd[0], nq.quorumd[0]})
	})
}

// reloadDebug: no process in procs logs debug lines while clients
// connect; after `debug: on` is written to the file and reloaded with
// corosync-cfgtool -R, each does. Both implementations print a line's
// level padded to 7 before the subsystem tag.
func reloadDebug(t *testing.T, impl string, c *harness.Cluster, procs []*harness.Proc) {
	t.Helper()
	debugLines := func(p *harness.Proc) int { return strings.Count(p.Output(), "debug   [") }
	nd := c.Nodes[0]
	probe := func() {
		for _, tool := range [][]string{{"corosync-cfgtool", "-s"}, {"corosync-cmapctl", "-g", "totem.token"}, {"corosync-quorumtool", "-s"}} {
			ctl(t, nd, tool[0], tool[1:]...)
		}
	}
	probe()
	for _, p := range procs {
		if n := debugLines(p); n != 0 {
			t.Fatalf("%s: %s logs %d debug lines before the reload", impl, p.Name, n)
		}
	}
	o := harness.ConfOptions{Token: 1000, Logging: "to_stderr: yes\n\tto_syslog: no\n\ttimestamp: hires\n\tdebug: on"}
	if err := c.WriteConf(o); err != nil {
		t.Fatal(err)
	}
	if r := ctl(t, nd, "corosync-cfgtool", "-R"); r.Code != 0 {
		t.Fatalf("corosync-cfgtool -R: %s", r)
	}
	waitValue(t, nd, "logging.debug", "on\n", 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		probe()
		missing := ""
		var counts []string
		for _, p := range procs {
			n := debugLines(p)
			counts = append(counts, fmt.Sprintf("%s %d", p.Name, n))
			if n == 0 {
				missing += " " + p.Name
			}
		}
		if missing == "" {
			t.Logf("%s: after debug: on and -R, debug lines from %s", impl, strings.Join(counts, ", "))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no debug lines after the reload from:%s", impl, missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestReopenLogsReachesEveryDaemon (issue 14, point 5): with a log file
// configured, a rotation (the file renamed away) followed by
// `corosync-cfgtool -L` makes totemd, cmapd and quorumd all write to a new
// file at the configured path, as corosync's one process does.
func TestReopenLogsReachesEveryDaemon(t *testing.T) {
	o := harness.ConfOptions{Token: 1000, Logging: "to_stderr: yes\n\tto_syslog: no\n\ttimestamp: hires\n\tto_logfile: yes\n\tlogfile: /var/log/corosync/corosync.log\n\tdebug: on"}
	nq := needleQuorumCluster(t, 1, o)
	nd := nq.c.Nodes[0]
	waitRing(t, "1", 20*time.Second, nq.totemd[0])
	waitMembers(t, nd, []int{1}, 10*time.Second)
	logPath := filepath.Join(nd.Dir, "log", "corosync.log")
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if r := ctl(t, nd, "corosync-cfgtool", "-L"); r.Code != 0 {
		t.Fatalf("corosync-cfgtool -L: %s", r)
	}
	// Each daemon logs a client's connection at debug level: all three must
	// land in the new file.
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, tool := range [][]string{{"corosync-cfgtool", "-s"}, {"corosync-cmapctl", "-g", "totem.token"}, {"corosync-quorumtool", "-s"}} {
			ctl(t, nd, tool[0], tool[1:]...)
		}
		b, _ := os.ReadFile(logPath)
		missing := ""
		for _, who := range []string{"[MAIN  ] IPC: client connected service=cfg", "service=cmap", "service=votequorum"} {
			if !strings.Contains(string(b), who) {
				missing += " " + who
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after cfgtool -L the new log file lacks:%s\n%s", missing, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestReloadRemovesNode (issue 15, point 2): node 3 of a three-node ring
// stops and is removed from the nodelist by `corosync-cfgtool -R`; the
// token timeout in force follows the smaller nodelist (1650 ms → 1000 ms
// at token 1000, as corosync scales it by node count) and the ring of
// the other two stays. Needle's totemd also logs the udpu member removed.
// The same steps against corosync 3.1.7 first.
func TestReloadRemovesNode(t *testing.T) {
	onBoth(t, func(t *testing.T, impl string) {
		o := harness.ConfOptions{Token: 1000}
		var procs []*harness.Proc
		c, ring := implCluster(t, impl, 3, o, &procs)
		waitMembers(t, c.Nodes[0], []int{1, 2, 3}, 30*time.Second)
		waitValue(t, c.Nodes[0], "runtime.config.totem.token", "1650\n", 10*time.Second)
		for _, p := range procs {
			if p.Node == c.Nodes[2] {
				p.Stop(10 * time.Second)
			}
		}
		waitMembers(t, c.Nodes[0], []int{1, 2}, 30*time.Second)
		conf := string(c.CorosyncConf(o))
		node3 := fmt.Sprintf("\tnode {\n\t\tring0_addr: %s\n\t\tname: node3\n\t\tnodeid: 3\n\t}\n", c.Nodes[2].Addr)
		if !strings.Contains(conf, node3) {
			t.Fatalf("no node 3 block in\n%s", conf)
		}
		conf = strings.Replace(conf, node3, "", 1)
		for _, nd := range c.Nodes[:2] {
			if err := nd.WriteFile("etc/corosync.conf", []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if r := ctl(t, c.Nodes[0], "corosync-cfgtool", "-R"); r.Code != 0 {
			t.Fatalf("corosync-cfgtool -R: %s", r)
		}
		for _, nd := range c.Nodes[:2] {
			waitValue(t, nd, "runtime.config.totem.token", "1000\n", 10*time.Second)
		}
		waitMembers(t, c.Nodes[1], []int{1, 2}, 5*time.Second)
		if impl == "needle" && !strings.Contains(ring[0].Output(), fmt.Sprintf("removing UDPU member {%s}", c.Nodes[2].Addr)) {
			t.Errorf("node 1's totemd did not log the removed member")
		}
		if impl == "needle" && !strings.Contains(ring[0].Output(), "totem settings changed token_ms=1000") {
			t.Errorf("node 1's totemd did not put the 1000 ms token in force")
		}
	})
}
