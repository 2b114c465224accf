package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// bins holds the binaries built once for all tests.
var bins struct {
	dir    string
	totemd string
	load   string
	flood  string
	scrape string
	err    error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "needle-it-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins.dir = dir
	bins.totemd = filepath.Join(dir, "totemd")
	bins.load = filepath.Join(dir, "busload")
	bins.flood = filepath.Join(dir, "udpflood")
	bins.scrape = filepath.Join(dir, "scrape")
	for pkg, out := range map[string]string{"../services/totemd": bins.totemd, "./cmd/busload": bins.load, "./cmd/udpflood": bins.flood,
		"./cmd/scrape": bins.scrape} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			bins.err = fmt.Errorf("go build %s: %v: %s", pkg, err, b)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needNamespaces(t *testing.T) {
	t.Helper()
	if why := harness.Requirements(); why != "" {
		t.Skip(why)
	}
	if bins.err != nil {
		t.Fatal(bins.err)
	}
}

// startTotemd starts needle's totemd on a node with the node's corosync.conf.
func startTotemd(t *testing.T, nd *harness.Node) *harness.Proc {
	t.Helper()
	p, err := nd.Start("totemd", bins.totemd, "-f", "-c", "/etc/corosync/corosync.conf")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var membershipLine = regexp.MustCompile(`new membership ring=(\S+) members=\[([0-9 ]*)\]`)

// lastMembership reads the last ring a totemd logged and whether service
// sync completed after it.
func lastMembership(p *harness.Proc) (ring, members string, synced bool) {
	out := p.Output()
	idx := membershipLine.FindAllStringSubmatchIndex(out, -1)
	if len(idx) == 0 {
		return "", "", false
	}
	last := idx[len(idx)-1]
	ring, members = out[last[2]:last[3]], out[last[4]:last[5]]
	synced = strings.Contains(out[last[1]:], "Completed service synchronization")
	return ring, members, synced
}

// waitRing waits until every process reports the same synced ring with
// exactly the given members (e.g. "1 2 3").
func waitRing(t testing.TB, members string, timeout time.Duration, procs ...*harness.Proc) time.Duration {
	t.Helper()
	took, ok := pollRing(lastMembership, members, timeout, procs)
	if ok {
		return took
	}
	for _, p := range procs {
		ring, m, synced := lastMembership(p)
		t.Logf("node %d: ring %s members [%s] synced %v", p.Node.Index+1, ring, m, synced)
	}
	t.Fatalf("no common synced ring with members [%s] after %v", members, timeout)
	return 0
}

// pollRing polls the processes' logs, read by last, until they report the
// same synced ring with exactly members, or timeout passes.
func pollRing(last func(*harness.Proc) (ring, members string, synced bool), members string, timeout time.Duration, procs []*harness.Proc) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < timeout {
		ok := true
		var first string
		for i, p := range procs {
			ring, m, synced := last(p)
			if m != members || !synced || (i > 0 && ring != first) {
				ok = false
				break
			}
			first = ring
		}
		if ok {
			return time.Since(start), true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, false
}

func dumpOnFailure(t *testing.T, procs *[]*harness.Proc) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, p := range *procs {
			out := p.Output()
			if len(out) > 6000 {
				out = "…" + out[len(out)-6000:]
			}
			t.Logf("--- node %d %s log:\n%s", p.Node.Index+1, p.Name, out)
		}
	})
}

var tokenWarning = regexp.MustCompile(`Token has not been received in (\d+) ms`)

// safeIndex is m[i], or "" when m is too short (no match).
func safeIndex(m []string, i int) string {
	if i < len(m) {
		return m[i]
	}
	return ""
}

func TestNeedleRingFormsSurvivesKillAndRejoins(t *testing.T) {
	needNamespaces(t)
	c, procs := needleCluster(t, 3, harness.ConfOptions{Token: 1000})

	killed := time.Now()
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	d := waitRing(t, "1 2", 20*time.Second, procs[0], procs[1])
	// token 1000 + 650 for the third node = 1650 ms, consensus 1.2× = 1980 ms.
	t.Logf("kill -9 → new ring in %v (token+consensus = 3.63s)", time.Since(killed))
	if d < 1500*time.Millisecond {
		t.Fatalf("new ring after %v: faster than the token timeout, so the failure was not detected by the protocol", d)
	}
	// token_warning (75 % by default): 1237 ms after the last token, a
	// little later on a busy machine, and before the token timeout.
	for _, p := range procs[:2] {
		m := tokenWarning.FindStringSubmatch(p.Output())
		if ms, _ := strconv.Atoi(safeIndex(m, 1)); ms < 1237 || ms >= 1650 {
			t.Errorf("want a token warning at 1237-1649 ms from a survivor:\n%s", p.Output())
		}
	}

	procs[2] = startTotemd(t, c.Nodes[2])
	d = waitRing(t, "1 2 3", 20*time.Second, procs...)
	t.Logf("restart → rejoined in %v", d)

	stopped := time.Now()
	if err := procs[1].Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitRing(t, "1 3", 20*time.Second, procs[0], procs[2])
	t.Logf("clean stop → new ring in %v", time.Since(stopped))
}

func TestNeedlePartitionAndHeal(t *testing.T) {
	needNamespaces(t)
	c, procs := needleCluster(t, 5, harness.ConfOptions{Token: 1000})
	if err := c.Partition([]int{0, 1}, []int{2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	waitRing(t, "1 2", 30*time.Second, procs[0], procs[1])
	waitRing(t, "3 4 5", 30*time.Second, procs[2], procs[3], procs[4])
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	d := waitRing(t, "1 2 3 4 5", 30*time.Second, procs...)
	t.Logf("heal → one ring in %v", d)
}

// needleCluster builds n nodes with the given corosync.conf options, starts
// totemd on each (logs dumped if the test fails) and waits for one ring.
func needleCluster(t *testing.T, n int, o harness.ConfOptions) (*harness.Cluster, []*harness.Proc) {
	t.Helper()
	c := harness.New(t, n)
	if err := c.WriteConf(o); err != nil {
		t.Fatal(err)
	}
	procs := make([]*harness.Proc, n)
	dumpOnFailure(t, &procs)
	for i, nd := range c.Nodes {
		procs[i] = startTotemd(t, nd)
	}
	waitRing(t, seq(n), 20*time.Second, procs...)
	return c, procs
}

// TestNeedleIPv6Ring forms a ring over IPv6 (udpu) and checks a kill -9.
func TestNeedleIPv6Ring(t *testing.T) {
	needNamespaces(t)
	_, procs := needleCluster(t, 3, harness.ConfOptions{Token: 1000, IPv6: true})
	if err := procs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	waitRing(t, "2 3", 20*time.Second, procs[1], procs[2])
}

// TestNeedleMulticastRing forms a ring with transport udp (IP multicast,
// group address derived from the cluster name) and survives a kill -9.
func TestNeedleMulticastRing(t *testing.T) {
	needNamespaces(t)
	c, procs := needleCluster(t, 3, harness.ConfOptions{Token: 1000, Transport: "udp"})
	if err := procs[2].Kill(); err != nil {
		t.Fatal(err)
	}
	waitRing(t, "1 2", 20*time.Second, procs[0], procs[1])
	procs[2] = startTotemd(t, c.Nodes[2])
	waitRing(t, "1 2 3", 20*time.Second, procs...)
}
