package integration

import (
	"fmt"
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
		for pkg, out := range map[string]string{"../services/quorumd/cmd/quorumtool": quorumBins.quorumtool} {
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

// waitQuorumtool waits until `corosync-quorumtool -s` on each node exits
// with code and reports members nodes.
func waitQuorumtool(t *testing.T, tool string, code, members int, timeout time.Duration, nodes ...*harness.Node) time.Duration {
	t.Helper()
	start := time.Now()
	var last ctlResult
	for time.Since(start) < timeout {
		ok := true
		for _, nd := range nodes {
			last = quorumtool(t, nd, tool, "-s")
			if last.Code != code || !strings.Contains(last.Stdout, fmt.Sprintf("\nNodes:            %d\n", members)) {
				ok = false
				last.Stderr += fmt.Sprintf("(node %d)\n", nd.Index+1)
				break
			}
		}
		if ok {
			return time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("after %v not every node reports exit %d with %d members; last:\n%s", timeout, code, members, last)
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
