package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// quorumBins are quorumd and our quorumtool, built once by the first test
// that needs them.
var quorumBins struct {
	once       sync.Once
	quorumd    string
	quorumtool string
	err        error
}

func needQuorumtool(t testing.TB) {
	t.Helper()
	quorumBins.once.Do(func() {
		quorumBins.quorumd = filepath.Join(bins.dir, "quorumd")
		quorumBins.quorumtool = filepath.Join(bins.dir, "quorumtool")
		for pkg, out := range map[string]string{"../services/quorumd/cmd/quorumtool": quorumBins.quorumtool, "../services/quorumd": quorumBins.quorumd} {
			if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
				quorumBins.err = fmt.Errorf("go build %s: %v: %s", pkg, err, b)
			}
		}
	})
	if quorumBins.err != nil {
		t.Fatal(quorumBins.err)
	}
}

const debianQuorumtool = "/usr/sbin/corosync-quorumtool"

var quorumDate = regexp.MustCompile(`(?m)^Date:             .*$`)

// quorumtool runs a quorumtool (ours or Debian's) on a node, argv[0]
// being "corosync-quorumtool" for both (the usage text prints it), with
// the Date line masked.
func quorumtool(t testing.TB, nd *harness.Node, tool string, args ...string) ctlResult {
	t.Helper()
	r := ctl(t, nd, "bash", append([]string{"-c", `exec -a corosync-quorumtool "$@"`, "bash", tool}, args...)...)
	r.Stdout = quorumDate.ReplaceAllString(r.Stdout, "Date: (masked)")
	return r
}

// sameQuorumtool runs every argument list with Debian's tool and ours on
// each node and requires identical results; it returns Debian's -s
// results per node.
func sameQuorumtool(t *testing.T, nodes []*harness.Node, cases ...string) {
	t.Helper()
	for _, nd := range nodes {
		for _, c := range cases {
			args := strings.Fields(c)
			want := quorumtool(t, nd, debianQuorumtool, args...)
			got := quorumtool(t, nd, quorumBins.quorumtool, args...)
			if want.String() != got.String() {
				t.Errorf("node %d: quorumtool %s differs:\n=== ours\n%s=== corosync-quorumtool\n%s", nd.Index+1, c, got, want)
			}
		}
	}
}

// waitQuorumtool waits until `quorumtool -s` on each node exits with
// code and reports members nodes.
func waitQuorumtool(t *testing.T, tool string, code, members int, timeout time.Duration, nodes ...*harness.Node) time.Duration {
	t.Helper()
	return waitTool(t, tool, []string{"-s"}, func(r ctlResult) bool {
		return r.Code == code && strings.Contains(r.Stdout, fmt.Sprintf("\nNodes:            %d\n", members))
	}, timeout, nodes...)
}

// waitTool waits until tool with args satisfies ok on every node.
func waitTool(t *testing.T, tool string, args []string, ok func(ctlResult) bool, timeout time.Duration, nodes ...*harness.Node) time.Duration {
	t.Helper()
	start := time.Now()
	var last ctlResult
	for time.Since(start) < timeout {
		all := true
		for _, nd := range nodes {
			last = quorumtool(t, nd, tool, args...)
			if !ok(last) {
				all = false
				last.Stderr += fmt.Sprintf("(node %d)\n", nd.Index+1)
				break
			}
		}
		if all {
			return time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("after %v, %s %v is not yet as expected; last:\n%s", timeout, filepath.Base(tool), args, last)
	return 0
}

// TestQuorumtoolRealCluster: our quorumtool prints what Debian's prints
// on every node of a real 3-node corosync 3.1.7 cluster, whole and split
// 2|1 (the minority inquorate, exit 2).
func TestQuorumtoolRealCluster(t *testing.T) {
	needCorosync(t)
	needNamespaces(t)
	needQuorumtool(t)
	c := harness.New(t, 3)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000}); err != nil {
		t.Fatal(err)
	}
	procs := make([]*harness.Proc, 3)
	for i, nd := range c.Nodes {
		p, err := nd.Start("corosync", "corosync", "-f")
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	dumpOnFailure(t, &procs)
	waitQuorumtool(t, debianQuorumtool, 0, 3, 30*time.Second, c.Nodes...)
	cases := []string{"-s", "-l", "-s -i", "-l -a -H", "-s -o n", "-s -o i -p", "-l -o i", "-e 1", "-v 1 -n 2", "-e 2"}
	sameQuorumtool(t, c.Nodes, cases...)

	if err := c.Partition([]int{2}); err != nil {
		t.Fatal(err)
	}
	waitQuorumtool(t, debianQuorumtool, 0, 2, 30*time.Second, c.Nodes[0], c.Nodes[1])
	waitQuorumtool(t, debianQuorumtool, 2, 1, 30*time.Second, c.Nodes[2])
	sameQuorumtool(t, c.Nodes, "-s", "-l", "-s -p -H")

	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	waitQuorumtool(t, debianQuorumtool, 0, 3, 30*time.Second, c.Nodes...)
	sameQuorumtool(t, c.Nodes, "-s", "-l")
}

// needleQuorum is a needle cluster with quorum: totemd, cmapd and quorumd
// per node.
type needleQuorum struct {
	c                      *harness.Cluster
	totemd, cmapd, quorumd []*harness.Proc
	all                    []*harness.Proc
}

// startQuorumd starts quorumd on node i.
func (n *needleQuorum) startQuorumd(t *testing.T, i int) {
	t.Helper()
	p, err := n.c.Nodes[i].Start("quorumd", quorumBins.quorumd, "-f")
	if err != nil {
		t.Fatal(err)
	}
	n.quorumd[i] = p
	n.all = append(n.all, p)
}

// needleQuorumCluster writes conf to n nodes and starts totemd, cmapd and
// quorumd on each.
func needleQuorumCluster(t *testing.T, n int, o harness.ConfOptions) *needleQuorum {
	t.Helper()
	needNamespaces(t)
	needCmapd(t)
	needQuorumtool(t)
	c := harness.New(t, n)
	if err := c.WriteConf(o); err != nil {
		t.Fatal(err)
	}
	nq := &needleQuorum{c: c, totemd: make([]*harness.Proc, n), cmapd: make([]*harness.Proc, n), quorumd: make([]*harness.Proc, n)}
	dumpOnFailure(t, &nq.all)
	for i, nd := range c.Nodes {
		nq.totemd[i] = startTotemd(t, nd)
		nq.all = append(nq.all, nq.totemd[i])
	}
	for i, nd := range c.Nodes {
		p, err := nd.Start("cmapd", cmapBins.cmapd, "-f")
		if err != nil {
			t.Fatal(err)
		}
		nq.cmapd[i] = p
		nq.all = append(nq.all, p)
	}
	for i := range c.Nodes {
		nq.startQuorumd(t, i)
	}
	return nq
}

// realQuorumCluster runs Debian's corosync on n nodes with o.
func realQuorumCluster(t *testing.T, n int, o harness.ConfOptions) (*harness.Cluster, []*harness.Proc) {
	t.Helper()
	needCorosync(t)
	c := harness.New(t, n)
	if err := c.WriteConf(o); err != nil {
		t.Fatal(err)
	}
	procs := make([]*harness.Proc, n)
	for i, nd := range c.Nodes {
		p, err := nd.Start("corosync", "corosync", "-f")
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	dumpOnFailure(t, &procs)
	return c, procs
}

// record runs Debian's corosync-quorumtool with each argument list on
// every node.
func record(t *testing.T, nodes []*harness.Node, cases ...string) [][]ctlResult {
	t.Helper()
	out := make([][]ctlResult, len(nodes))
	for i, nd := range nodes {
		for _, c := range cases {
			out[i] = append(out[i], quorumtool(t, nd, debianQuorumtool, strings.Fields(c)...))
		}
	}
	return out
}

// ringSeq is the sequence half of the Ring ID line: how many rings formed
// before this one depends on how the daemons' start-ups interleaved, not
// on quorum, so the comparison with another cluster masks it (the
// representative stays compared).
var ringSeq = regexp.MustCompile(`(?m)^(Ring ID:          (?:[0-9a-f]+\.)?)[0-9a-f]+$`)

func maskSeq(r ctlResult) string {
	r.Stdout = ringSeq.ReplaceAllString(r.Stdout, "${1}(seq)")
	return r.String()
}

// sameAsReal requires Debian's (and our) quorumtool on needle to print
// what Debian's printed on real corosync (ref, from record), the ring
// sequence aside.
func sameAsReal(t *testing.T, nodes []*harness.Node, ref [][]ctlResult, cases ...string) {
	t.Helper()
	for i, nd := range nodes {
		for j, c := range cases {
			for _, tool := range []string{debianQuorumtool, quorumBins.quorumtool} {
				got := quorumtool(t, nd, tool, strings.Fields(c)...)
				if maskSeq(got) != maskSeq(ref[i][j]) {
					t.Errorf("node %d: %s %s on needle differs from corosync:\n=== needle\n%s=== corosync\n%s", nd.Index+1, filepath.Base(tool), c, got, ref[i][j])
				}
			}
		}
	}
}

// TestQuorumdNoProvider: without quorum.provider needle's quorum service
// is QUORUM_FREE, as corosync's: always quorate, no votequorum, no view.
func TestQuorumdNoProvider(t *testing.T) {
	needNamespaces(t)
	needQuorumtool(t)
	o := harness.ConfOptions{Token: 1000, Quorum: "# no provider"}
	cases := []string{"-s", "-l", "-e 2", "-v 1", "-f"}
	// Without votequorum -s fails (CS_ERR_BAD_HANDLE); -l shows the
	// (empty) view once the quorum service answers.
	listed := func(r ctlResult) bool { return r.Code == 0 }
	rc, procs := realQuorumCluster(t, 3, o)
	waitTool(t, debianQuorumtool, []string{"-l"}, listed, 30*time.Second, rc.Nodes...)
	ref := record(t, rc.Nodes, cases...)
	for _, p := range procs {
		p.Stop(10 * time.Second)
	}
	nq := needleQuorumCluster(t, 3, o)
	waitRing(t, "1 2 3", 30*time.Second, nq.totemd...)
	waitTool(t, debianQuorumtool, []string{"-l"}, listed, 30*time.Second, nq.c.Nodes...)
	sameAsReal(t, nq.c.Nodes, ref, cases...)
}

// TestQuorumdPartition: three needle nodes are quorate; a 1|2 partition
// leaves the minority inquorate (quorumtool -s exits 2) while the
// majority stays quorate; healing restores quorum everywhere. Debian's
// corosync-quorumtool -s on needle prints what it prints on a real
// corosync with the same configuration and history, whole and split.
func TestQuorumdPartition(t *testing.T) {
	needNamespaces(t)
	needQuorumtool(t)
	o := harness.ConfOptions{Token: 1000}
	cases := []string{"-s", "-l", "-s -p", "-s -o i", "-e 1", "-v 1 -n 2", "-e 2", "-v 1 -n 9", "-f"}
	var ref, refSplit [][]ctlResult
	if harness.HaveCorosync() {
		rc, procs := realQuorumCluster(t, 3, o)
		waitQuorumtool(t, debianQuorumtool, 0, 3, 30*time.Second, rc.Nodes...)
		ref = record(t, rc.Nodes, cases...)
		if err := rc.Partition([]int{0}); err != nil {
			t.Fatal(err)
		}
		waitQuorumtool(t, debianQuorumtool, 2, 1, 30*time.Second, rc.Nodes[0])
		waitQuorumtool(t, debianQuorumtool, 0, 2, 30*time.Second, rc.Nodes[1:]...)
		refSplit = record(t, rc.Nodes, cases...)
		for _, p := range procs {
			p.Stop(10 * time.Second)
		}
	}

	nq := needleQuorumCluster(t, 3, o)
	waitRing(t, "1 2 3", 30*time.Second, nq.totemd...)
	d := waitQuorumtool(t, quorumBins.quorumtool, 0, 3, 30*time.Second, nq.c.Nodes...)
	t.Logf("3 needle nodes quorate after %v", d)
	if ref != nil {
		sameAsReal(t, nq.c.Nodes, ref, cases...)
	}

	if err := nq.c.Partition([]int{0}); err != nil {
		t.Fatal(err)
	}
	d = waitQuorumtool(t, quorumBins.quorumtool, 2, 1, 30*time.Second, nq.c.Nodes[0])
	t.Logf("minority inquorate after %v", d)
	waitQuorumtool(t, quorumBins.quorumtool, 0, 2, 30*time.Second, nq.c.Nodes[1:]...)
	if refSplit != nil {
		sameAsReal(t, nq.c.Nodes, refSplit, cases...)
	}

	if err := nq.c.Heal(); err != nil {
		t.Fatal(err)
	}
	d = waitQuorumtool(t, quorumBins.quorumtool, 0, 3, 30*time.Second, nq.c.Nodes...)
	t.Logf("healed and quorate after %v", d)

	// Restarting a quorumd costs no node its quorum: its peers keep its
	// record, and the round after it attaches again gives it theirs.
	if err := nq.quorumd[2].Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, nd := range nq.c.Nodes[:2] {
		if r := quorumtool(t, nd, quorumBins.quorumtool, "-s"); r.Code != 0 || !strings.Contains(r.Stdout, "Total votes:      3\n") {
			t.Errorf("node %d while node 3's quorumd is down:\n%s", nd.Index+1, r)
		}
	}
	nq.startQuorumd(t, 2)
	d = waitQuorumtool(t, quorumBins.quorumtool, 0, 3, 30*time.Second, nq.c.Nodes...)
	t.Logf("restarted quorumd quorate after %v", d)
	if ref != nil {
		sameAsReal(t, nq.c.Nodes, ref, cases...)
	}
}

// TestQuorumdExpectedVotesTracking: with expected_votes_tracking the
// highest expected votes seen (3) is written to each node's
// /var/lib/corosync/ev_tracking and survives a restart, so a node that
// comes back alone still expects 3 votes and stays inquorate. (Real
// corosync 3.1.7 writes the file only when creating it, with 0, and
// keeps the barrier in memory only: addendum §1.4; needle persists it.)
func TestQuorumdExpectedVotesTracking(t *testing.T) {
	o := harness.ConfOptions{Token: 1000, Quorum: "provider: corosync_votequorum\n\texpected_votes_tracking: 1"}
	nq := needleQuorumCluster(t, 3, o)
	waitRing(t, "1 2 3", 30*time.Second, nq.totemd...)
	waitQuorumtool(t, quorumBins.quorumtool, 0, 3, 30*time.Second, nq.c.Nodes...)
	for _, nd := range nq.c.Nodes {
		path := filepath.Join(nd.Dir, "state", "ev_tracking")
		var b []byte
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, _ = os.ReadFile(path)
			if string(b) == "\x03\x00\x00\x00" || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if string(b) != "\x03\x00\x00\x00" {
			t.Errorf("node %d: %s holds %x, want the barrier 3 (03000000)", nd.Index+1, path, b)
		}
	}
	for _, ps := range [][]*harness.Proc{nq.quorumd, nq.cmapd, nq.totemd} {
		for _, p := range ps {
			p.Stop(10 * time.Second)
		}
	}
	// Node 1 alone again: totemd, cmapd, quorumd.
	nd := nq.c.Nodes[0]
	nq.totemd[0] = startTotemd(t, nd)
	p, err := nd.Start("cmapd", cmapBins.cmapd, "-f")
	if err != nil {
		t.Fatal(err)
	}
	nq.all = append(nq.all, nq.totemd[0], p)
	nq.startQuorumd(t, 0)
	waitQuorumtool(t, quorumBins.quorumtool, 2, 1, 30*time.Second, nd)
	r := quorumtool(t, nd, quorumBins.quorumtool, "-s")
	for _, want := range []string{"Expected votes:   3\n", "Quorum:           2 Activity blocked\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("node 1 restarted alone: no %q in\n%s", want, r)
		}
	}
	if v := ctl(t, nd, debianCmapctl, "-g", "runtime.votequorum.ev_tracking_barrier"); !strings.Contains(v.Stdout, "= 3\n") {
		t.Errorf("runtime.votequorum.ev_tracking_barrier: %s", v)
	}
}

// agreed is a quorumtool -s output with what legitimately differs
// between the nodes of one cluster removed: the Date line, our node id
// and the "(local)" mark.
var nodeIDLine = regexp.MustCompile(`(?m)^Node ID: .*\n`)

func agreed(r ctlResult) string {
	r.Stdout = nodeIDLine.ReplaceAllString(r.Stdout, "")
	r.Stdout = strings.ReplaceAll(r.Stdout, " (local)", "")
	return r.String()
}

// waitAgreement waits until corosync-quorumtool -s exits with code and
// prints the same (agreed) status on every node, and returns it.
func waitAgreement(t *testing.T, code, members int, timeout time.Duration, nodes ...*harness.Node) string {
	t.Helper()
	waitQuorumtool(t, debianQuorumtool, code, members, timeout, nodes...)
	deadline := time.Now().Add(timeout)
	for {
		first := agreed(quorumtool(t, nodes[0], debianQuorumtool, "-s"))
		same := true
		var other string
		for _, nd := range nodes[1:] {
			if other = agreed(quorumtool(t, nd, debianQuorumtool, "-s")); other != first {
				same = false
				break
			}
		}
		if same {
			return first
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes do not agree:\n%s\nversus\n%s", first, other)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func maskSeqText(s string) string { return ringSeq.ReplaceAllString(s, "${1}(seq)") }

// stack starts or kills what makes one node: corosync, or needle's
// totemd + cmapd + quorumd.
type stack struct {
	start func(i int)
	kill  func(i int)
}

func realStack(t *testing.T, c *harness.Cluster, procs *[]*harness.Proc) stack {
	byNode := map[int]*harness.Proc{}
	return stack{
		start: func(i int) {
			p, err := c.Nodes[i].Start("corosync", "corosync", "-f")
			if err != nil {
				t.Fatal(err)
			}
			byNode[i] = p
			*procs = append(*procs, p)
		},
		kill: func(i int) {
			if err := byNode[i].Kill(); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func needleStack(t *testing.T, c *harness.Cluster, procs *[]*harness.Proc) stack {
	byNode := map[int][]*harness.Proc{}
	return stack{
		start: func(i int) {
			nd := c.Nodes[i]
			ps := []*harness.Proc{startTotemd(t, nd)}
			for _, d := range []struct{ name, bin string }{{"cmapd", cmapBins.cmapd}, {"quorumd", quorumBins.quorumd}} {
				p, err := nd.Start(d.name, d.bin, "-f")
				if err != nil {
					t.Fatal(err)
				}
				ps = append(ps, p)
			}
			byNode[i] = ps
			*procs = append(*procs, ps...)
		},
		kill: func(i int) {
			for _, p := range byNode[i] {
				if err := p.Kill(); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
}

// twoNodeHistory is the two_node story of votequorum.md §12 on node 1:
// alone at cold start (wait_for_all holds quorum back), then with node 2
// (quorate), then node 2 killed (still quorate with 1 of 2 votes). It
// returns node 1's quorumtool -s at each step.
func twoNodeHistory(t *testing.T, c *harness.Cluster, s stack) []ctlResult {
	nd := c.Nodes[0]
	var out []ctlResult
	s.start(0)
	waitQuorumtool(t, debianQuorumtool, 2, 1, 30*time.Second, nd)
	out = append(out, quorumtool(t, nd, debianQuorumtool, "-s"))
	s.start(1)
	waitQuorumtool(t, debianQuorumtool, 0, 2, 30*time.Second, c.Nodes...)
	out = append(out, quorumtool(t, nd, debianQuorumtool, "-s"))
	s.kill(1)
	waitQuorumtool(t, debianQuorumtool, 0, 1, 30*time.Second, nd)
	out = append(out, quorumtool(t, nd, debianQuorumtool, "-s"))
	return out
}

// TestQuorumdTwoNode: a two_node cluster (wait_for_all implied) behaves
// on needle as on corosync 3.1.7, step by step: node 1 alone at cold
// start is not quorate ("2Node WaitForAll", Activity blocked), both nodes
// are quorate, and node 1 keeps quorum when node 2 dies.
func TestQuorumdTwoNode(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	needCmapd(t)
	needQuorumtool(t)
	o := harness.ConfOptions{Token: 1000, Quorum: "provider: corosync_votequorum\n\ttwo_node: 1"}
	rc := harness.New(t, 2)
	if err := rc.WriteConf(o); err != nil {
		t.Fatal(err)
	}
	var procs []*harness.Proc
	dumpOnFailure(t, &procs)
	ref := twoNodeHistory(t, rc, realStack(t, rc, &procs))
	for _, p := range procs {
		p.Stop(10 * time.Second)
	}
	if !strings.Contains(ref[0].Stdout, "Flags:            2Node WaitForAll \n") || !strings.Contains(ref[2].Stdout, "Flags:            2Node Quorate WaitForAll \n") {
		t.Fatalf("corosync's two_node history is not the documented one:\n%s\n%s", ref[0], ref[2])
	}
	nc := harness.New(t, 2)
	if err := nc.WriteConf(o); err != nil {
		t.Fatal(err)
	}
	got := twoNodeHistory(t, nc, needleStack(t, nc, &procs))
	for i := range ref {
		if maskSeq(got[i]) != maskSeq(ref[i]) {
			t.Errorf("step %d: needle\n%s\ncorosync\n%s", i+1, got[i], ref[i])
		}
	}
}

// runtimeChanges raises expected votes and node 3's votes with quorumtool
// -e / -v on node 1 and returns every node's quorumtool -s after each.
func runtimeChanges(t *testing.T, c *harness.Cluster) []ctlResult {
	var out []ctlResult
	for _, step := range []struct {
		args  []string
		total string
	}{
		{[]string{"-e", "4"}, "Expected votes:   4\n"},
		{[]string{"-v", "2", "-n", "3"}, "Total votes:      4\n"},
	} {
		if r := quorumtool(t, c.Nodes[0], debianQuorumtool, step.args...); r.Code != 0 {
			t.Fatalf("quorumtool %v: %s", step.args, r)
		}
		waitTool(t, debianQuorumtool, []string{"-s"}, func(r ctlResult) bool { return strings.Contains(r.Stdout, step.total) }, 15*time.Second, c.Nodes...)
		for _, nd := range c.Nodes {
			out = append(out, quorumtool(t, nd, debianQuorumtool, "-s"))
		}
	}
	return out
}

// TestQuorumdRuntimeChanges: quorumtool -e and -v at runtime change
// expected votes and a node's votes on every needle node as on corosync.
func TestQuorumdRuntimeChanges(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	needQuorumtool(t)
	o := harness.ConfOptions{Token: 1000}
	rc, procs := realQuorumCluster(t, 3, o)
	waitQuorumtool(t, debianQuorumtool, 0, 3, 30*time.Second, rc.Nodes...)
	ref := runtimeChanges(t, rc)
	for _, p := range procs {
		p.Stop(10 * time.Second)
	}
	nq := needleQuorumCluster(t, 3, o)
	waitRing(t, "1 2 3", 30*time.Second, nq.totemd...)
	waitQuorumtool(t, debianQuorumtool, 0, 3, 30*time.Second, nq.c.Nodes...)
	got := runtimeChanges(t, nq.c)
	for i := range ref {
		if maskSeq(got[i]) != maskSeq(ref[i]) {
			t.Errorf("node %d after change %d: needle\n%s\ncorosync\n%s", i%3+1, i/3+1, got[i], ref[i])
		}
	}
}

// TestQuorumdClientScenarios runs the quorum and votequorum client
// scenarios that services/quorumd/client checks against a real corosync
// 3.1.7 (every request, both quorum event models, trackers and their
// contexts, setexpected/setvotes refusals, the qdevice life cycle, unknown
// request ids) inside a one-node needle cluster: the same expectations
// must hold.
func TestQuorumdClientScenarios(t *testing.T) {
	nq := needleQuorumCluster(t, 1, harness.ConfOptions{Token: 1000})
	bin := filepath.Join(bins.dir, "quorum-client.test")
	if b, err := exec.Command("go", "test", "-c", "-o", bin, "../services/quorumd/client").CombinedOutput(); err != nil {
		t.Fatalf("build the client tests: %v: %s", err, b)
	}
	waitQuorumtool(t, quorumBins.quorumtool, 0, 1, 30*time.Second, nq.c.Nodes[0])
	// Longer than the scenarios' own waits (30 s each), so that a wait
	// that fails reports what it waited for.
	r := ctlWithin(t, 2*time.Minute, nq.c.Nodes[0], "env", "NEEDLE_QUORUM_LIVE=1", bin, "-test.run", "^TestLive(Daemon|BadInput)$", "-test.v", "-test.count=1")
	for _, want := range []string{"--- PASS: TestLiveDaemon/votequorum", "--- PASS: TestLiveDaemon/quorum", "--- PASS: TestLiveBadInput"} {
		if r.Code != 0 || !strings.Contains(r.Stdout, want) {
			t.Errorf("client scenarios against needle: no %q in\n%s", want, r)
			break
		}
	}
	// Every refused request is logged, naming what was wrong.
	for _, want := range []string{"bad quorum request", "bad votequorum request", "without a terminating NUL"} {
		if !strings.Contains(nq.quorumd[0].Output(), want) {
			t.Errorf("quorumd's log has no %q", want)
		}
	}

	// A restarted cmapd has no runtime.votequorum.* keys; quorumd writes
	// them again (quorumtool needs this_node_id).
	if err := nq.cmapd[0].Kill(); err != nil {
		t.Fatal(err)
	}
	p, err := nq.c.Nodes[0].Start("cmapd", cmapBins.cmapd, "-f")
	if err != nil {
		t.Fatal(err)
	}
	nq.all = append(nq.all, p)
	waitQuorumtool(t, quorumBins.quorumtool, 0, 1, 30*time.Second, nq.c.Nodes[0])
}
