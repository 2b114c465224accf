package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// Mixed rings of Debian's corosync 3.1.7 and needle nodes (issue 10,
// point 6): corosync-quorumtool -s agrees on every node; a partition, the
// kill and restart of a node of either kind, and the restart of a needle
// quorumd. A quorumd stopped by SIGTERM hands over to the next one, and
// nothing changes anywhere. One killed and restarted attaches after the
// ring's full round; corosync nodes send NODEINFO only in a full round,
// so totemd forms a new ring of the same members for it (syncengine's
// NewRing, srp's Reform). No node is inquorate at any time.

// TestQuorumdMixedRing: two corosync nodes (1, 2) and one needle node (3).
func TestQuorumdMixedRing(t *testing.T) { mixedQuorumRing(t, 2) }

// TestQuorumdMixedRingOneCorosync: one corosync node (1) and two needle
// nodes (2, 3).
func TestQuorumdMixedRingOneCorosync(t *testing.T) { mixedQuorumRing(t, 1) }

func mixedQuorumRing(t *testing.T, real int) {
	needNamespaces(t)
	needCorosync(t)
	needCmapd(t)
	needQuorumtool(t)
	c := harness.New(t, 3)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000}); err != nil {
		t.Fatal(err)
	}
	m := &mixedNodes{t: t, c: c, real: real, now: map[int][]*harness.Proc{}}
	dumpOnFailure(t, &m.procs)
	for i := range c.Nodes {
		m.start(i)
	}
	status := waitAgreement(t, 0, 3, 30*time.Second, c.Nodes...)
	t.Logf("every node of the mixed ring agrees:\n%s", status)
	for _, want := range []string{"Expected votes:   3\n", "Total votes:      3\n", "Flags:            Quorate \n",
		"         1          1 node1\n", "         2          1 node2\n", "         3          1 node3\n"} {
		if !strings.Contains(status, want) {
			t.Errorf("agreed status lacks %q", want)
		}
	}
	sameQuorumtool(t, c.Nodes, "-s", "-l")
	same := func(step string, got string) {
		t.Helper()
		if maskSeqText(got) != maskSeqText(status) {
			t.Errorf("%s:\n%s\nat the start:\n%s", step, got, status)
		}
	}

	// A partition isolating needle node 3: it is inquorate, the other two
	// keep quorum; after the heal all agree again.
	nd := c.Nodes[2]
	if err := c.Partition([]int{2}); err != nil {
		t.Fatal(err)
	}
	waitQuorumtool(t, debianQuorumtool, 2, 1, 30*time.Second, nd)
	waitAgreement(t, 0, 2, 30*time.Second, c.Nodes[0], c.Nodes[1])
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	same("after the heal", waitAgreement(t, 0, 3, 30*time.Second, c.Nodes...))

	// Every needle quorumd restarts in turn by SIGTERM, then the last one
	// by kill -9, each under a poll of every node: nobody is ever
	// inquorate, and only the restarted node's quorumtool may fail (no
	// quorumd to answer). SIGTERM hands the quorumd over to the next one
	// (ipcproto's doc, "Handing a daemon over"): no new ring forms and the
	// new quorumd says it resumed. After kill -9 the new quorumd attaches
	// afresh, and totemd forms a new ring of the same members so that the
	// corosync nodes hear its NODEINFO (fcd9fe7).
	type restart struct {
		i    int
		kill bool
	}
	var restarts []restart
	for i := real; i < len(c.Nodes); i++ {
		restarts = append(restarts, restart{i, false})
	}
	restarts = append(restarts, restart{len(c.Nodes) - 1, true})
	for _, r := range restarts {
		i := r.i
		how := map[bool]string{false: "SIGTERM", true: "kill -9"}[r.kill]
		totemd := m.now[i][0]
		reforms := strings.Count(totemd.Output(), "forming a new ring of the same members")
		p := startQuorumPoll(c.Nodes, i)
		m.restartDaemon(i, mixedQuorumd, r.kill, time.Second)
		same(fmt.Sprintf("after node %d's quorumd restarted (%s)", i+1, how), waitAgreement(t, 0, 3, 30*time.Second, c.Nodes...))
		time.Sleep(3 * time.Second) // and a while beyond
		polls := p.stop()
		t.Logf("node %d's quorumd restart (%s): %s", i+1, how, polls.summary())
		for _, e := range polls.bad {
			t.Errorf("node %d's quorumd restart (%s): %s", i+1, how, e)
		}
		if polls.ok[i] == 0 {
			t.Errorf("node %d's quorumd restart (%s): its own quorumtool never answered quorate", i+1, how)
		}
		got := strings.Count(totemd.Output(), "forming a new ring of the same members")
		resumed := strings.Contains(m.now[i][mixedQuorumd].Output(), "resumed the previous daemon's session")
		switch {
		case r.kill && got <= reforms:
			t.Errorf("node %d: totemd formed no new ring for the quorumd restarted after kill -9", i+1)
		case !r.kill && got != reforms:
			t.Errorf("node %d: totemd formed %d new rings for a quorumd that handed over", i+1, got-reforms)
		case !r.kill && !resumed:
			t.Errorf("node %d: the quorumd started after SIGTERM did not resume its predecessor's session:\n%s", i+1, m.now[i][mixedQuorumd].Output())
		}
	}
	sameQuorumtool(t, c.Nodes, "-s", "-l")

	// Kill -9 and restart a node of either kind: corosync node 1, then
	// needle node 3.
	for _, i := range []int{0, 2} {
		m.kill(i)
		var rest []*harness.Node
		for j, o := range c.Nodes {
			if j != i {
				rest = append(rest, o)
			}
		}
		survivors := waitAgreement(t, 0, 2, 30*time.Second, rest...)
		for _, want := range []string{"Expected votes:   3\n", "Total votes:      2\n", "Flags:            Quorate \n"} {
			if !strings.Contains(survivors, want) {
				t.Errorf("node %d killed: the survivors' status lacks %q:\n%s", i+1, want, survivors)
			}
		}
		m.start(i)
		same(fmt.Sprintf("after node %d's restart", i+1), waitAgreement(t, 0, 3, 30*time.Second, c.Nodes...))
	}
}

// quorumPoll runs corosync-quorumtool -s on every node, one after the
// other, until stopped, and keeps what it saw.
type quorumPoll struct {
	done   chan struct{}
	wg     sync.WaitGroup
	result pollResult
}

type pollResult struct {
	runs int
	ok   map[int]int // quorate answers per node index
	fail map[int]int // failed runs (exit 1) per node index
	bad  []string    // what must not happen
}

func (r pollResult) summary() string {
	return fmt.Sprintf("%d polls; quorate answers per node %v, failed runs per node %v", r.runs, r.ok, r.fail)
}

// startQuorumPoll polls nodes; restarting is the index of the node whose
// quorumd restarts, the one node whose tool may fail to connect.
func startQuorumPoll(nodes []*harness.Node, restarting int) *quorumPoll {
	p := &quorumPoll{done: make(chan struct{}), result: pollResult{ok: map[int]int{}, fail: map[int]int{}}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			for _, nd := range nodes {
				select {
				case <-p.done:
					return
				default:
				}
				p.one(nd, restarting)
			}
		}
	}()
	return p
}

func (p *quorumPoll) one(nd *harness.Node, restarting int) {
	res, err := runTool(20*time.Second, nd, debianQuorumtool, "-s")
	code := res.Code
	if err != nil {
		code = -1
	}
	r := &p.result
	r.runs++
	at := time.Now().Format("15:04:05.000")
	switch {
	case code == 0 && strings.Contains(res.Stdout, "Quorate:          Yes\n"):
		r.ok[nd.Index]++
	case code == 1 && nd.Index == restarting:
		r.fail[nd.Index]++
	case code == 1:
		// A corosync or needle node answering nothing while another
		// node's quorumd restarts is a failure too, if not a quorum loss.
		r.fail[nd.Index]++
		r.bad = append(r.bad, fmt.Sprintf("%s node %d: corosync-quorumtool -s failed:\n%s%s", at, nd.Index+1, res.Stdout, res.Stderr))
	default:
		r.bad = append(r.bad, fmt.Sprintf("%s node %d: corosync-quorumtool -s exit %d:\n%s%s", at, nd.Index+1, code, res.Stdout, res.Stderr))
	}
}

// stop ends the poll and returns what it saw.
func (p *quorumPoll) stop() pollResult {
	close(p.done)
	p.wg.Wait()
	return p.result
}
