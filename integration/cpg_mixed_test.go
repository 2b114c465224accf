package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// CPG in mixed rings of Debian's corosync 3.1.7 and needle nodes (issue
// 11, point 5). One group spans both kinds: cpgload on every node loses
// nothing and every node hashes one delivery order. Processes held in
// groups on every node are listed alike by Debian's corosync-cpgtool on
// every node, and needle's cpgtool prints the same bytes as corosync's on
// each node. kill -9 of a corosync node, then of a needle node, under a
// paced load on all three (loadAcross: the survivors' instances see the
// killed one leave, lose nothing and agree on the order): the survivors
// drop its processes and their groups keep working; restarted, the node's
// new processes appear everywhere and loads over all three nodes agree
// again. Last, a needle node's cpgd alone restarts, also under
// loadAcross. By SIGTERM it hands its clients and state to the next cpgd
// (ipcproto's doc, "Handing a daemon over"): nobody notices, the load on
// that node goes on, nothing is lost and no new ring forms. By kill -9:
// corosync nodes learn a restarted cpgd's joinlist only in the full sync
// round of a new ring, which totemd forms for the attaching daemon
// (fcd9fe7); after it every node lists the same members, without the
// node's old processes and with its new ones. With two needle nodes, the
// other one's cpgd runs a per-service round when the cpgd goes away, and
// keeps the corosync node's processes through it (a corosync node sends
// nothing in such a round).

// TestCpgMixedRing: two corosync nodes (1, 2) and one needle node (3).
func TestCpgMixedRing(t *testing.T) { mixedCpgRing(t, 2) }

// TestCpgMixedRingOneCorosync: one corosync node (1) and two needle
// nodes (2, 3).
func TestCpgMixedRingOneCorosync(t *testing.T) { mixedCpgRing(t, 1) }

// cpgHolders keeps cpgload instances that never send (they wait for more
// members than exist) in groups, so there are members to list.
type cpgHolders struct {
	t     *testing.T
	c     *harness.Cluster
	n     int                     // instances started, for unique log names
	procs map[int][]*harness.Proc // by node index
}

// hold starts node i's holders: one in group "hold", one in "hold-n<i+1>".
func (h *cpgHolders) hold(i int) {
	h.t.Helper()
	for _, g := range []string{"hold", fmt.Sprintf("hold-n%d", i+1)} {
		h.n++
		p, err := h.c.Nodes[i].Start(fmt.Sprintf("holder%d-%s", h.n, g), cpgBins.load,
			"--group", g, "--members", "99", "--count", "0", "--timeout", "600s")
		if err != nil {
			h.t.Fatal(err)
		}
		h.procs[i] = append(h.procs[i], p)
	}
}

// drop kills node i's holders (they have lost their daemon or are to).
func (h *cpgHolders) drop(i int) []*harness.Proc {
	old := h.procs[i]
	for _, p := range old {
		p.Kill()
	}
	h.procs[i] = nil
	return old
}

func (h *cpgHolders) stopAll() {
	for i := range h.procs {
		h.drop(i)
	}
}

// members is what every node's corosync-cpgtool must list: "group pid
// nodeid" of every holder, sorted.
func (h *cpgHolders) members() []string {
	var want []string
	for i, ps := range h.procs {
		for _, p := range ps {
			g := "hold"
			if strings.Contains(p.Name, "-hold-n") {
				g = fmt.Sprintf("hold-n%d", i+1)
			}
			want = append(want, fmt.Sprintf("%s %d %d", g, p.PID(), i+1))
		}
	}
	slices.Sort(want)
	return want
}

// waitSameMembers waits until Debian's corosync-cpgtool on every one of
// nodes lists exactly the holders' members (the "hold*" groups; a
// finished load's group may linger for a moment), then wants needle's
// cpgtool to print the same bytes as corosync-cpgtool on each node (with
// every option set when all is set, else with none), and logs the
// listing.
func waitSameMembers(t *testing.T, h *cpgHolders, nodes []*harness.Node, step string, all bool) {
	t.Helper()
	want := h.members()
	deadline := time.Now().Add(30 * time.Second)
	for _, nd := range nodes {
		for {
			var got []string
			for _, m := range cpgtoolMembers(t, nd) {
				if strings.HasPrefix(m, "hold") {
					got = append(got, m)
				}
			}
			slices.Sort(got)
			if slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: corosync-cpgtool on node %d lists\n%s\nwant\n%s", step, nd.Index+1,
					strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	sets := [][]string{{}}
	if all {
		sets = [][]string{{}, {"-n"}, {"-d", " "}, {"-e"}}
	}
	for _, nd := range nodes {
		for _, args := range sets {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			real, err1 := nd.Run(ctx, append([]string{"corosync-cpgtool"}, args...)...)
			ours, err2 := nd.Run(ctx, append([]string{cpgBins.tool}, args...)...)
			cancel()
			if err1 != nil || err2 != nil || string(real) != string(ours) {
				t.Fatalf("%s: node %d cpgtool %q:\ncorosync-cpgtool (%v):\n%s\nneedle's cpgtool (%v):\n%s",
					step, nd.Index+1, args, err1, real, err2, ours)
			}
		}
	}
	t.Logf("%s: corosync-cpgtool -d ' ' lists the same %d members on nodes %v:\n%s", step, len(want), nodeNumbers(nodes),
		strings.Join(want, "\n"))
}

// loadAcross runs a paced cpgload on every one of nodes across fault,
// which ends the instance on nodes[victim] (its node or its cpgd dies;
// it would send for a minute, so it cannot finish first): the other
// instances see that one leave, finish, lose nothing and agree on the
// order.
func loadAcross(t *testing.T, nodes []*harness.Node, group string, victim int, what string, fault func()) {
	loadAcrossFault(t, nodes, group, victim, what, false, fault)
}

// loadAcrossFault is loadAcross; with survives, the victim's load lives
// through the fault (a handover): every load, its own included, must see
// nobody depart, lose nothing and agree on the order.
func loadAcrossFault(t *testing.T, nodes []*harness.Node, group string, victim int, what string, survives bool, fault func()) {
	t.Helper()
	loads := make([]*harness.Proc, len(nodes))
	for i, nd := range nodes {
		d := "3s"
		if i == victim && !survives {
			d = "60s"
		}
		p, err := nd.Start("cpgload-"+group, cpgBins.load, "--group", group, "--members", fmt.Sprint(len(nodes)),
			"--size", "1024", "--duration", d, "--rate", "200", "--timeout", "150s")
		if err != nil {
			t.Fatal(err)
		}
		loads[i] = p
	}
	defer loads[victim].Kill()
	waitGroupSize(t, nodes[0], group, len(nodes), 20*time.Second)
	time.Sleep(time.Second) // sending
	fault()
	rest, departed := slices.Delete(slices.Clone(loads), victim, victim+1), 1
	if survives {
		rest, departed = loads, 0
	}
	rs := cpgloadResults(t, rest)
	for _, r := range rs {
		t.Logf("%s", r.line) // every node's, before any failure: which sender lost what (lost_detail)
	}
	for _, r := range rs {
		if !r.OK || r.Lost != 0 || r.Duplicates != 0 || r.FIFO != 0 || r.Departed != departed || r.OrderHash != rs[0].OrderHash {
			t.Fatalf("%s: node %d's load across it: ok %v lost %d dup %d fifo %d departed %d (want %d) hash %s vs %s",
				what, r.Node, r.OK, r.Lost, r.Duplicates, r.FIFO, r.Departed, departed, r.OrderHash, rs[0].OrderHash)
		}
	}
}

// waitGroupSize waits until corosync-cpgtool on nd lists n members of
// group.
func waitGroupSize(t *testing.T, nd *harness.Node, group string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		k := 0
		for _, m := range cpgtoolMembers(t, nd) {
			if strings.HasPrefix(m, group+" ") {
				k++
			}
		}
		if k == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d lists %d members of %s, want %d", nd.Index+1, k, group, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nodeNumbers(nodes []*harness.Node) []int {
	var ns []int
	for _, nd := range nodes {
		ns = append(ns, nd.Index+1)
	}
	return ns
}

// mixedLoad runs cpgload in group on nodes, each sending count 1 KiB
// messages, and wants lost 0 and one order hash.
func mixedLoad(t *testing.T, nodes []*harness.Node, group string, count int) {
	t.Helper()
	counts := make([]int, len(nodes))
	for i := range counts {
		counts[i] = count
	}
	rs := runCpgloadOn(t, nodes, group, 1024, counts)
	checkOneOrder(t, rs, uint64(count*len(nodes)))
	for _, r := range rs {
		t.Logf("%s", r.line)
	}
}

func mixedCpgRing(t *testing.T, real int) {
	needNamespaces(t)
	needCorosync(t)
	needCmapd(t)
	needQuorumtool(t)
	buildCpgBins(t)
	if !haveCpgd(t) {
		t.Fatal(cpgdBin.err)
	}
	c := harness.New(t, 3)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000}); err != nil {
		t.Fatal(err)
	}
	m := &mixedNodes{t: t, c: c, real: real, cpgd: true, now: map[int][]*harness.Proc{}}
	dumpOnFailure(t, &m.procs)
	for i := range c.Nodes {
		m.start(i)
	}
	h := &cpgHolders{t: t, c: c, procs: map[int][]*harness.Proc{}}
	defer h.stopAll()
	waitAgreement(t, 0, 3, 30*time.Second, c.Nodes...)
	for i, nd := range c.Nodes {
		waitCpgtool(t, nd, 20*time.Second)
		h.hold(i)
	}
	kinds := fmt.Sprintf("%d corosync + %d needle", real, len(c.Nodes)-real)

	// One group across both kinds of node.
	mixedLoad(t, c.Nodes, "mixed", 1000)
	waitSameMembers(t, h, c.Nodes, kinds, true)

	// kill -9 and restart of corosync node 1, then of needle node 3, each
	// under a paced load on all three nodes (loadAcross).
	for _, i := range []int{0, 2} {
		what := fmt.Sprintf("%s, node %d (%s) killed", kinds, i+1, m.now[i][0].Name)
		loadAcross(t, c.Nodes, fmt.Sprintf("across%d", i+1), i, what, func() {
			m.kill(i)
			h.drop(i)
		})
		var rest []*harness.Node
		for j, nd := range c.Nodes {
			if j != i {
				rest = append(rest, nd)
			}
		}
		waitAgreement(t, 0, 2, 30*time.Second, rest...)
		waitSameMembers(t, h, rest, what, false)
		mixedLoad(t, rest, fmt.Sprintf("survivors%d", i+1), 1000)

		m.start(i)
		waitAgreement(t, 0, 3, 30*time.Second, c.Nodes...)
		waitCpgtool(t, c.Nodes[i], 20*time.Second)
		h.hold(i)
		what = fmt.Sprintf("%s, node %d restarted", kinds, i+1)
		waitSameMembers(t, h, c.Nodes, what, false)
		mixedLoad(t, c.Nodes, fmt.Sprintf("rejoined%d", i+1), 1000)
	}

	// Needle node 3's cpgd alone restarts, by SIGTERM and by kill -9,
	// each under a paced load on all three nodes (loadAcross).
	const i = 2
	for _, kill := range []bool{false, true} {
		how := "SIGTERM"
		if kill {
			how = "kill -9"
		}
		what := fmt.Sprintf("%s, node 3's cpgd restarted (%s)", kinds, how)
		totemd := m.now[i][mixedTotemd]
		reforms := strings.Count(totemd.Output(), "forming a new ring of the same members")
		var old []*harness.Proc
		loadAcrossFault(t, c.Nodes, fmt.Sprintf("across-cpgd-%v", kill), i, what, !kill, func() {
			m.restartDaemon(i, mixedCpgd, kill, 500*time.Millisecond)
			if kill {
				old = h.drop(i) // they lost their connection with the old cpgd
			}
		})
		waitCpgtool(t, c.Nodes[i], 20*time.Second)
		h.hold(i)
		waitSameMembers(t, h, c.Nodes, what, kill)
		for _, nd := range c.Nodes {
			ms := strings.Join(cpgtoolMembers(t, nd), "\n") + "\n"
			for _, p := range old {
				if strings.Contains(ms, fmt.Sprintf(" %d 3\n", p.PID())) {
					t.Errorf("%s: node %d still lists node 3's old process %d:\n%s", what, nd.Index+1, p.PID(), ms)
				}
			}
		}
		got := strings.Count(totemd.Output(), "forming a new ring of the same members")
		if kill && got <= reforms {
			t.Errorf("%s: totemd formed no new ring for the restarted cpgd", what)
		}
		if !kill && got != reforms {
			t.Errorf("%s: totemd formed %d new rings for a cpgd that handed over", what, got-reforms)
		}
		mixedLoad(t, c.Nodes, fmt.Sprintf("cpgd%s", map[bool]string{false: "term", true: "kill"}[kill]), 1000)
	}
}
