package integration

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// deliveredMessages reads a busload output file: message lines only.
func deliveredMessages(nd *harness.Node, name string) []string {
	f, err := os.Open(filepath.Join(nd.Dir, "run", name))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := s.Text(); !strings.HasPrefix(line, "conf ") {
			out = append(out, line)
		}
	}
	return out
}

// runTraffic runs busload on every node (count messages each, all starting
// together once every client is attached) and waits until every node
// delivered all of them; it returns each node's delivery order.
func runTraffic(t *testing.T, nodes []*harness.Node, count int, timeout time.Duration) [][]string {
	t.Helper()
	start := time.Now().Add(1500 * time.Millisecond).UnixNano()
	var loads []*harness.Proc
	for _, nd := range nodes {
		p, err := nd.Start("busload", bins.load, "-bus", "/run/needle/bus.sock", "-out", "/run/delivered.txt",
			"-count", fmt.Sprint(count), "-node", fmt.Sprint(nd.Index+1), "-size", "200", "-every", "2ms",
			"-start", fmt.Sprint(start))
		if err != nil {
			t.Fatal(err)
		}
		loads = append(loads, p)
	}
	want := count * len(nodes)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		done := true
		for i, nd := range nodes {
			if loads[i].Exited() {
				t.Fatalf("busload on node %d exited: %s", i+1, loads[i].Output())
			}
			if len(deliveredMessages(nd, "delivered.txt")) < want {
				done = false
			}
		}
		if done {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range loads {
		if err := p.Stop(5 * time.Second); err != nil {
			t.Logf("busload stop: %v", err)
		}
	}
	orders := make([][]string, len(nodes))
	for i, nd := range nodes {
		orders[i] = deliveredMessages(nd, "delivered.txt")
		if len(orders[i]) != want {
			t.Errorf("node %d delivered %d messages, want %d", i+1, len(orders[i]), want)
		}
	}
	return orders
}

func checkSameOrder(t testing.TB, orders [][]string) {
	t.Helper()
	for i := 1; i < len(orders); i++ {
		if !slices.Equal(orders[0], orders[i]) {
			n := min(len(orders[0]), len(orders[i]))
			for j := 0; j < n; j++ {
				if orders[0][j] != orders[i][j] {
					t.Fatalf("node %d differs from node 1 at delivery %d: %q vs %q", i+1, j, orders[i][j], orders[0][j])
				}
			}
			t.Fatalf("node %d delivered %d messages, node 1 %d", i+1, len(orders[i]), len(orders[0]))
		}
	}
	seen := map[string]bool{}
	for _, m := range orders[0] {
		if seen[m] {
			t.Fatalf("message %q delivered twice", m)
		}
		seen[m] = true
	}
}

func TestNeedleTrafficUnderLoss(t *testing.T) {
	needNamespaces(t)
	for _, pct := range []int{1, 10} {
		t.Run(fmt.Sprintf("loss%d%%", pct), func(t *testing.T) {
			c := harness.New(t, 3)
			if err := c.WriteConf(harness.ConfOptions{Token: 1000}); err != nil {
				t.Fatal(err)
			}
			var procs []*harness.Proc
			dumpOnFailure(t, &procs)
			for _, nd := range c.Nodes {
				procs = append(procs, startTotemd(t, nd))
			}
			waitRing(t, "1 2 3", 20*time.Second, procs...)
			for i := range c.Nodes {
				if err := c.SetLoss(i, pct); err != nil {
					t.Skipf("no packet loss here: %v", err)
				}
			}
			orders := runTraffic(t, c.Nodes, 300, 20*time.Second)
			checkSameOrder(t, orders)
		})
	}
}

// TestNeedleWrongAuthkeyCannotJoin: nodes 1 and 2 share a key, node 3 has
// another; node 3 stays alone and its log says why.
func TestNeedleWrongAuthkeyCannotJoin(t *testing.T) {
	needNamespaces(t)
	c := harness.New(t, 3)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000, Extra: "crypto_cipher: aes256\n\tcrypto_hash: sha256"}); err != nil {
		t.Fatal(err)
	}
	good, bad := make([]byte, 256), make([]byte, 256)
	for i := range good {
		good[i], bad[i] = byte(i), byte(255-i)
	}
	for i, nd := range c.Nodes {
		key := good
		if i == 2 {
			key = bad
		}
		if err := nd.WriteFile("etc/authkey", key, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	var procs []*harness.Proc
	dumpOnFailure(t, &procs)
	for _, nd := range c.Nodes {
		procs = append(procs, startTotemd(t, nd))
	}
	waitRing(t, "1 2", 20*time.Second, procs[0], procs[1])
	waitRing(t, "3", 20*time.Second, procs[2])
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(procs[2].Output(), "authentication failed") {
		if time.Now().After(deadline) {
			t.Fatal("node 3's log does not say that authentication failed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// And it stays out: one more token timeout later the rings are unchanged.
	time.Sleep(2 * time.Second)
	waitRing(t, "1 2", time.Second, procs[0], procs[1])
	waitRing(t, "3", time.Second, procs[2])
}

// TestNeedleGarbageFloodChangesNothing floods every node's Totem port with
// random datagrams — from a listed node's address and from an address
// outside the nodelist — while traffic flows: the ring stays the same ring
// and every message is delivered in one order.
func TestNeedleGarbageFloodChangesNothing(t *testing.T) {
	needNamespaces(t)
	c := harness.New(t, 3)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000, Logging: os.Getenv("NEEDLE_IT_LOGGING")}); err != nil {
		t.Fatal(err)
	}
	outsider, err := c.AddNode() // on the LAN, not in the nodelist
	if err != nil {
		t.Fatal(err)
	}
	var procs []*harness.Proc
	dumpOnFailure(t, &procs)
	for _, nd := range c.Nodes[:3] {
		procs = append(procs, startTotemd(t, nd))
	}
	waitRing(t, "1 2 3", 20*time.Second, procs...)
	ring, _, _ := lastMembership(procs[0])

	var dsts []string
	for _, nd := range c.Nodes[:3] {
		dsts = append(dsts, nd.Addr.String()+":5405")
	}
	for i, nd := range []*harness.Node{c.Nodes[0], outsider} {
		args := append([]string{bins.flood, "-for", "4s", "-seed", fmt.Sprint(i + 1)}, dsts...)
		if _, err := nd.Start(fmt.Sprintf("flood%d", i), args...); err != nil {
			t.Fatal(err)
		}
	}
	orders := runTraffic(t, c.Nodes[:3], 300, 30*time.Second)
	checkSameOrder(t, orders)
	for _, p := range procs {
		if r, m, _ := lastMembership(p); r != ring || m != "1 2 3" {
			t.Fatalf("node %d moved to ring %s [%s] during the flood (was %s)", p.Node.Index+1, r, m, ring)
		}
	}
}

// TestNeedleTrafficUnderDelay runs traffic with 20 ms ± 5 ms delay on one
// node's link; it skips where the kernel has no netem.
func TestNeedleTrafficUnderDelay(t *testing.T) {
	needNamespaces(t)
	c, _ := needleCluster(t, 3, harness.ConfOptions{Token: 1000})
	if err := c.SetDelay(1, 20*time.Millisecond, 5*time.Millisecond); err != nil {
		t.Skip(err)
	}
	checkSameOrder(t, runTraffic(t, c.Nodes, 200, 30*time.Second))
}
