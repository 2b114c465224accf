package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// pcmkCluster is three nodes running a cluster stack (needle's daemons or
// Debian's corosync) and Debian's pacemaker on top.
type pcmkCluster struct {
	t     *testing.T
	impl  string // "needle" or "corosync"
	c     *harness.Cluster
	stack [][]*harness.Proc // per node, in start order
	pcmk  []*harness.Proc   // pacemakerd per node
	all   []*harness.Proc
}

// startStack starts node i's cluster stack and waits until its tools
// answer.
func (pc *pcmkCluster) startStack(i int) {
	t := pc.t
	nd := pc.c.Nodes[i]
	var daemons [][]string
	if pc.implOf(i) == "corosync" {
		daemons = [][]string{{"corosync", "corosync", "-f"}}
	} else {
		daemons = [][]string{{"totemd", bins.totemd, "-f", "-c", "/etc/corosync/corosync.conf"},
			{"cmapd", cmapBins.cmapd, "-f"}, {"quorumd", quorumBins.quorumd, "-f"}, {"cpgd", cpgdBin.path, "-f"}}
	}
	pc.stack[i] = nil
	for _, d := range daemons {
		p, err := nd.Start(d[0], d[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		pc.stack[i] = append(pc.stack[i], p)
		pc.all = append(pc.all, p)
	}
	// Pacemaker starts once the stack answers, on either implementation
	// (pacemakerd started before corosync's IPC is up retries its CMAP
	// connection only after 1 s, which made corosync's rejoin look slower).
	waitCpgtool(t, nd, 20*time.Second)
}

// implOf is what runs on node i: in the "mixed" cluster nodes 1 and 2 run
// Debian's corosync and node 3 needle.
func (pc *pcmkCluster) implOf(i int) string {
	if pc.impl == "mixed" {
		if i == 2 {
			return "needle"
		}
		return "corosync"
	}
	return pc.impl
}

func (pc *pcmkCluster) startPacemaker(i int) {
	p, err := pc.c.Nodes[i].StartPacemaker()
	if err != nil {
		pc.t.Fatal(err)
	}
	pc.pcmk[i] = p
	pc.all = append(pc.all, p)
}

// name is node i's name in Pacemaker (the nodelist's name).
func name(i int) string { return fmt.Sprintf("node%d", i+1) }

func index(name string) int {
	i, _ := strconv.Atoi(strings.TrimPrefix(name, "node"))
	return i - 1
}

// reapNode makes sure nothing we started is left in node i after its
// stack died. pacemakerd 2.1.5 keeps running for minutes after the cluster
// below it is gone, on corosync as on needle (it retries the connection);
// whatever is still there after 5 s is killed (only processes in the
// node's own network namespace, all started by this test).
func (pc *pcmkCluster) reapNode(i int) {
	nd := pc.c.Nodes[i]
	select {
	case <-time.After(5 * time.Second):
		pc.t.Logf("node %d: pacemakerd still running 5 s after its cluster stack died; killing what is left", i+1)
	case <-waitExit(pc.pcmk[i]):
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		out, _ := exec.Command("ip", "netns", "pids", nd.NS).Output()
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, s := range pids {
				if pid, err := strconv.Atoi(s); err == nil && pid != os.Getpid() {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func waitExit(p *harness.Proc) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for !p.Exited() {
			time.Sleep(100 * time.Millisecond)
		}
		close(ch)
	}()
	return ch
}

// logCrm logs crm_mon's one-screen view from node i (the note
// quotes it at each step).
func (pc *pcmkCluster) logCrm(i int, step string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := pc.c.Nodes[i].Run(ctx, "crm_mon", "-1", "--exclude=times")
	pc.t.Logf("%s: %s — crm_mon -1 on node %d:\n%s%v", pc.impl, step, i+1, out, errOrEmpty(err))
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// stepLine logs one machine-readable line per step, `PCMK-STEP {json}`:
// the implementation, the step, the seconds from the step's action to the
// crm_mon state it waits for (polled every 0.5 s, so ±0.5 s), the time of
// the action ("at", to find it in the daemons' logs), and whatever
// else the step knows (the DC crm_mon showed, where dummy runs). README's
// "Pacemaker on needle and on corosync: differences" compares them.
func (pc *pcmkCluster) stepLine(step string, since time.Time, kv map[string]any) {
	rec := map[string]any{"impl": pc.impl, "step": step, "secs": time.Since(since).Round(10 * time.Millisecond).Seconds(),
		"at": since.Format("15:04:05.000")}
	for k, v := range kv {
		rec[k] = v
	}
	b, _ := json.Marshal(rec)
	pc.t.Logf("PCMK-STEP %s", b)
}

// dcNow is the DC crm_mon on node i shows now ("" if none or on error).
func (pc *pcmkCluster) dcNow(i int) string {
	m, err := crmMonState(context.Background(), pc.c.Nodes[i])
	if err != nil || !m.Summary.DC.Present {
		return ""
	}
	return m.Summary.DC.Name
}

// pacemakerLife is issue 13's life of a cluster, judged from crm_mon's
// XML: cold start; kill -9 of the cluster stack on the node running the
// resource (it moves to a survivor within token + consensus + 10 s); that
// node back; a 1|2 partition isolating the resource's node (the minority
// stops it, the majority runs it) and its healing; a clean stop of a node
// not running it (no interruption elsewhere).
// startPcmkCluster checks what impl needs, starts three nodes' stacks
// and Pacemaker, waits for all Online seen from node watch, configures
// the test configuration and waits for dummy to start.
func startPcmkCluster(t *testing.T, impl string, watch int) (*pcmkCluster, crmMon) {
	t.Helper()
	needNamespaces(t)
	if why := harness.HavePacemaker(); why != "" {
		t.Skip(why)
	}
	if impl != "needle" {
		needCorosync(t)
	}
	if impl != "corosync" {
		needCmapd(t)
		needQuorumtool(t)
		if !haveCpgd(t) {
			t.Fatal(cpgdBin.err)
		}
	}
	pc := &pcmkCluster{t: t, impl: impl, c: harness.New(t, 3), stack: make([][]*harness.Proc, 3), pcmk: make([]*harness.Proc, 3)}
	opts := harness.ConfOptions{Token: 1000}
	if os.Getenv("NEEDLE_PCMK_DEBUG") == "1" {
		// debug logging of the stack (totemd and the service daemons, or
		// corosync), for finding where a step's time goes
		opts.Logging = "to_stderr: yes\n\tto_syslog: no\n\ttimestamp: hires\n\tdebug: on"
	}
	if err := pc.c.WriteConf(opts); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, &pc.all)
	dumpPacemaker(t, pc.c, &pc.all)
	for i := range 3 {
		pc.startStack(i)
	}
	waitNodes(t, 3, 30*time.Second, pc.c.Nodes...)
	begin := time.Now()
	for i := range 3 {
		pc.startPacemaker(i)
	}
	m := waitCrm(t, pc.c.Nodes[watch], "all nodes online", 120*time.Second, func(m crmMon) bool {
		return m.Summary.DC.Present && len(m.online()) == 3
	})
	pc.stepLine("all online", begin, map[string]any{"dc": m.Summary.DC.Name})
	begin = time.Now()
	pacemakerTestConfig(t, pc.c.Nodes[0])
	m = waitCrm(t, pc.c.Nodes[(watch+1)%3], "dummy started", 60*time.Second, func(m crmMon) bool { return m.startedOn("dummy") != "" })
	pc.stepLine("dummy started", begin, map[string]any{"dc": m.Summary.DC.Name, "on": m.startedOn("dummy")})
	return pc, m
}

func pacemakerLife(t *testing.T, impl string) {
	pc, m := startPcmkCluster(t, impl, 0)
	x := index(m.startedOn("dummy"))
	pc.logCrm((x+1)%3, "cold start")

	// 1. kill -9 of the whole cluster stack on the resource's node.
	survivor := (x + 1) % 3
	dcBefore := pc.dcNow(survivor)
	start := time.Now()
	for _, p := range pc.stack[x] {
		_ = p.Kill()
	}
	// token 1650 ms (three nodes) + consensus 1980 ms + 10 s.
	m = waitCrm(t, pc.c.Nodes[survivor], "dummy moved to a survivor", 13630*time.Millisecond, func(m crmMon) bool {
		on := m.startedOn("dummy")
		return on != "" && on != name(x) && !slices.Contains(m.online(), name(x))
	})
	t.Logf("%s: dummy moved from %s to %s %v after the kill", impl, name(x), m.startedOn("dummy"), time.Since(start).Round(100*time.Millisecond))
	pc.stepLine("kill -9", start, map[string]any{"killed": name(x), "killed_was_dc": dcBefore == name(x),
		"dc_before": dcBefore, "dc": m.Summary.DC.Name, "on": m.startedOn("dummy")})
	pc.logCrm(survivor, "after kill -9 on "+name(x))
	pc.reapNode(x)

	// 2. the node comes back and is Online again.
	start = time.Now()
	pc.startStack(x)
	pc.startPacemaker(x)
	m = waitCrm(t, pc.c.Nodes[survivor], "killed node online again", 120*time.Second, func(m crmMon) bool {
		return len(m.online()) == 3 && m.startedOn("dummy") != ""
	})
	pc.stepLine("back", start, map[string]any{"node": name(x), "dc": m.Summary.DC.Name, "on": m.startedOn("dummy")})
	pc.logCrm(x, name(x)+" back")

	// 3. a 1|2 partition isolating the resource's node.
	m = waitCrm(t, pc.c.Nodes[0], "dummy placed", 30*time.Second, func(m crmMon) bool { return m.startedOn("dummy") != "" })
	y := index(m.startedOn("dummy"))
	dcBefore = m.Summary.DC.Name
	start = time.Now()
	if err := pc.c.Partition([]int{y}); err != nil {
		t.Fatal(err)
	}
	majority := (y + 1) % 3
	m = waitCrm(t, pc.c.Nodes[majority], "majority runs dummy", 60*time.Second, func(m crmMon) bool {
		on := m.startedOn("dummy")
		return m.Summary.DC.WithQuorum && on != "" && on != name(y)
	})
	pc.stepLine("partition, majority", start, map[string]any{"minority": name(y), "minority_was_dc": dcBefore == name(y),
		"dc_before": dcBefore, "dc": m.Summary.DC.Name, "on": m.startedOn("dummy")})
	m = waitCrm(t, pc.c.Nodes[y], "minority stopped dummy", 60*time.Second, func(m crmMon) bool {
		return !m.Summary.DC.WithQuorum && m.startedOn("dummy") == ""
	})
	// (waited for after the majority, so never less than its time; the
	// minority's own time is in its pacemaker.log)
	pc.stepLine("partition, minority", start, map[string]any{"minority": name(y), "dc": m.Summary.DC.Name})
	pc.logCrm(y, "partition: minority "+name(y))
	pc.logCrm(majority, "partition: majority")
	start = time.Now()
	if err := pc.c.Heal(); err != nil {
		t.Fatal(err)
	}
	m = waitCrm(t, pc.c.Nodes[y], "healed", 120*time.Second, func(m crmMon) bool {
		return m.Summary.DC.WithQuorum && len(m.online()) == 3 && m.startedOn("dummy") != ""
	})
	pc.stepLine("heal", start, map[string]any{"dc": m.Summary.DC.Name, "on": m.startedOn("dummy")})
	pc.logCrm(y, "healed")

	z := index(m.startedOn("dummy"))
	w := (z + 1) % 3
	logBefore := len(pc.c.Nodes[z].PacemakerLog())

	// 4. (needle) a restart of only quorumd, then of only cpgd, on a node
	// not running the resource. Disconnected, Pacemaker would notice each:
	// the controller exits when it loses its quorum connection and comes
	// back respawned without its #feature-set transient attribute (crm_mon
	// then says "MIXED-VERSION partition"); all four of Pacemaker's CPG
	// daemons would exit at once when cpgd goes, and pacemakerd checks the
	// cluster with a CPG connect on each exit before respawning; that
	// connect, waiting on the restarted cpgd's handshake, is cut short
	// (EINTR, libqb then reports TRY_AGAIN) by the SIGCHLD of the next
	// daemon's exit, leaving the CIB manager "Not respawning ... until
	// cluster returns" for good. So a quorumd or cpgd stopped with SIGTERM
	// hands its clients and its state to its successor through totemd
	// (ipcproto's doc, "Handing a daemon over"): Pacemaker must not notice
	// either restart at all — no respawn, no lost connection, nothing
	// fenced, the resource left where it is, and no MIXED-VERSION.
	if impl == "needle" {
		pc.restartOne(w, z, "quorumd")
		pc.restartOne(w, z, "cpgd")
	}

	// 5. a clean stop of a node not running the resource: pacemaker first,
	// then the stack in reverse start order (as systemd would).
	dcBefore = pc.dcNow(z)
	start = time.Now()
	if err := pc.pcmk[w].Stop(120 * time.Second); err != nil {
		t.Fatalf("pacemaker on %s: %v", name(w), err)
	}
	pcmkStopped := time.Since(start).Round(10 * time.Millisecond).Seconds()
	for i := len(pc.stack[w]) - 1; i >= 0; i-- {
		if err := pc.stack[w][i].Stop(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	other := 3 - z - w
	m = waitCrm(t, pc.c.Nodes[other], "stopped node offline", 60*time.Second, func(m crmMon) bool {
		return !slices.Contains(m.online(), name(w))
	})
	pc.stepLine("clean stop", start, map[string]any{"node": name(w), "stopped_was_dc": dcBefore == name(w),
		"dc_before": dcBefore, "pacemaker_stop_secs": pcmkStopped, "dc": m.Summary.DC.Name, "on": m.startedOn("dummy")})
	if on := m.startedOn("dummy"); on != name(z) {
		t.Fatalf("%s: dummy on %q after a clean stop of %s, want it still on %s", impl, on, name(w), name(z))
	}
	if strings.Contains(pc.c.Nodes[z].PacemakerLog()[logBefore:], stoppedOn(name(z))) {
		t.Errorf("%s: dummy was stopped on %s during a clean stop of %s", impl, name(z), name(w))
	}
	pc.logCrm(other, "clean stop of "+name(w))
}

// restartOne restarts only daemon (quorumd or cpgd, which hand over on
// SIGTERM) on node w, with the resource on node z, and checks that
// Pacemaker did not notice (see step 4).
func (pc *pcmkCluster) restartOne(w, z int, daemon string) {
	t := pc.t
	logs := make([]int, 3)
	for i := range 3 {
		logs[i] = len(pc.c.Nodes[i].PacemakerLog())
	}
	bin := map[string]string{"quorumd": quorumBins.quorumd, "cpgd": cpgdBin.path}[daemon]
	k := slices.IndexFunc(pc.stack[w], func(p *harness.Proc) bool { return p.Name == daemon })
	if k < 0 {
		t.Fatalf("no %s in the stack", daemon)
	}
	if err := pc.stack[w][k].Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	np, err := pc.c.Nodes[w].Start(daemon, bin, "-f")
	if err != nil {
		t.Fatal(err)
	}
	pc.stack[w][k] = np
	pc.all = append(pc.all, np)
	restarted := time.Now()
	// Healthy, and either a Pacemaker daemon was respawned and the
	// controller there has joined its DC again (the disruption happened
	// and is over: reported below) or 10 s passed healthy. crm_mon alone
	// is not enough after a respawn: it still names the old DC and lists
	// the node online while the respawned controller is starting, and a
	// clean stop then leaves the node UNCLEAN (offline) on the DC, a
	// fence-worthy state (seen once in the README's comparison runs).
	m := waitCrm(t, pc.c.Nodes[w], "pacemaker recovered after a "+daemon+" restart", 120*time.Second, func(m crmMon) bool {
		healthy := m.Summary.DC.Present && m.Summary.DC.WithQuorum && len(m.online()) == 3 && m.startedOn("dummy") == name(z)
		l := pc.c.Nodes[w].PacemakerLog()[logs[w]:]
		if k := strings.LastIndex(l, "Respawning pacemaker-controld"); k >= 0 {
			l = l[k:]
			return healthy && (strings.Contains(l, "-> S_NOT_DC") || strings.Contains(l, "-> S_IDLE"))
		}
		// handed over: nothing may happen at all
		return healthy && time.Since(restarted) > 10*time.Second
	})
	if !strings.Contains(np.Output(), "resumed the previous daemon's session") {
		t.Errorf("needle: the restarted %s on %s did not resume its predecessor's session:\n%s", daemon, name(w), np.Output())
	}
	t.Logf("needle: %s restarted on %s: pacemaker there healthy after %v, dummy on %s", daemon, name(w),
		time.Since(restarted).Round(100*time.Millisecond), m.startedOn("dummy"))
	pc.stepLine(daemon+" restart", restarted, map[string]any{"node": name(w), "dc": m.Summary.DC.Name, "on": m.startedOn("dummy")})
	for i := range 3 {
		l := pc.c.Nodes[i].PacemakerLog()[logs[i]:]
		// Handed over: no daemon lost CPG or quorum, none was
		// respawned, and no node saw a peer's process leave a group.
		bads := []string{"will be fenced", "for fencing", "Scheduling node " + name(w) + " for STONITH",
			"Shutting cluster down", "Shutting down Pacemaker",
			"Respawning ", "Not respawning", "Lost connection to cluster layer", "CPG connection",
			"left the cluster", "is now lost", "Node " + name(w) + " state is now lost", "Quorum lost"}
		if i == z {
			// The running resource is not touched.
			bads = append(bads, stoppedOn(name(z)))
		}
		for _, bad := range bads {
			if strings.Contains(l, bad) {
				t.Errorf("needle: after the %s restart on %s, node %d's pacemaker log has %q", daemon, name(w), i+1, bad)
			}
		}
		// A respawned controller loses its #feature-set transient
		// attribute, which crm_mon reports as a mixed-version partition.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := pc.c.Nodes[i].Run(ctx, "crm_mon", "-1", "--exclude=times")
		cancel()
		if err != nil {
			t.Errorf("needle: crm_mon on node %d after the %s restart: %v\n%s", i+1, daemon, err, out)
		} else if strings.Contains(string(out), "MIXED-VERSION") {
			t.Errorf("needle: after the %s restart on %s, crm_mon on node %d says MIXED-VERSION:\n%s", daemon, name(w), i+1, out)
		}
	}
	pc.logCrm(w, daemon+" restarted on "+name(w))
}

// TestPacemakerLifeOnNeedle runs the life of a Pacemaker cluster on three
// needle nodes (issue 13, point 2).
func TestPacemakerLifeOnNeedle(t *testing.T) { pacemakerLife(t, "needle") }

// TestPacemakerLifeOnCorosync runs the same steps on Debian's corosync as
// the reference (issue 13, point 5); it takes minutes, so it runs when
// NEEDLE_PCMK_REFERENCE=1 (make pacemaker-reference).
func TestPacemakerLifeOnCorosync(t *testing.T) {
	if os.Getenv("NEEDLE_PCMK_REFERENCE") != "1" {
		t.Skip("the corosync reference runs with NEEDLE_PCMK_REFERENCE=1 (make pacemaker-reference)")
	}
	pacemakerLife(t, "corosync")
}

// TestPacemakerMixedRing (issue 13, point 3): two Debian corosync 3.1.7
// nodes and one needle node, each running Pacemaker: all Online; the
// resource moved onto the needle node runs there; kill -9 of the needle
// stack moves it to a corosync node within token + consensus + 10 s.
func TestPacemakerMixedRing(t *testing.T) {
	pc, _ := startPcmkCluster(t, "mixed", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := pc.c.Nodes[0].Run(ctx, "crm_resource", "--resource", "dummy", "--move", "--node", name(2)); err != nil {
		t.Fatalf("crm_resource --move: %v\n%s", err, out)
	}
	waitCrm(t, pc.c.Nodes[0], "dummy on the needle node", 60*time.Second, func(m crmMon) bool { return m.startedOn("dummy") == name(2) })
	pc.logCrm(2, "mixed ring, dummy moved to the needle node")
	start := time.Now()
	for _, p := range pc.stack[2] {
		_ = p.Kill()
	}
	m := waitCrm(t, pc.c.Nodes[0], "dummy back on a corosync node", 13630*time.Millisecond, func(m crmMon) bool {
		on := m.startedOn("dummy")
		return on != "" && on != name(2) && !slices.Contains(m.online(), name(2))
	})
	t.Logf("mixed: dummy moved from %s to %s %v after the kill", name(2), m.startedOn("dummy"), time.Since(start).Round(100*time.Millisecond))
	pc.logCrm(0, "mixed ring, after kill -9 of the needle stack")
	pc.reapNode(2)
}

// stoppedOn is what node's controller logs when it stops dummy there. Not
// "dummy_stop_0": that also shows in the CIB's resource history of other
// nodes, which every node logs when the DC rebuilds the status section
// (a stop on the returning node after the kill -9 step, logged on node z
// during the clean stop, failed a run).
func stoppedOn(node string) string {
	return "Requesting local execution of stop operation for dummy on " + node
}
