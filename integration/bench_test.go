package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// emit prints one machine-readable figure as a JSON line on stdout.
func emit(b *testing.B, fields map[string]any) {
	b.Helper()
	line, err := json.Marshal(fields)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintln(os.Stdout, string(line))
}

func seq(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprint(i + 1)
	}
	return strings.Join(s, " ")
}

// benchMembership measures, with corosync's default timers (token 3000 ms
// plus 650 ms per node beyond two): cold formation, kill -9 → new ring,
// restart → rejoin, clean stop → new ring.
func benchMembership(b *testing.B, n int) {
	if why := harness.Requirements(); why != "" {
		b.Skip(why)
	}
	if bins.err != nil {
		b.Fatal(bins.err)
	}
	for i := 0; i < b.N; i++ {
		c := harness.New(b, n)
		if err := c.WriteConf(harness.ConfOptions{}); err != nil {
			b.Fatal(err)
		}
		procs := make([]*harness.Proc, n)
		t0 := time.Now()
		for j, nd := range c.Nodes {
			p, err := nd.Start("totemd", bins.totemd, "-f", "-c", "/etc/corosync/corosync.conf")
			if err != nil {
				b.Fatal(err)
			}
			procs[j] = p
		}
		waitRing(b, seq(n), 120*time.Second, procs...)
		cold := time.Since(t0)

		t0 = time.Now()
		procs[n-1].Kill()
		waitRing(b, seq(n-1), 120*time.Second, procs[:n-1]...)
		kill := time.Since(t0)

		t0 = time.Now()
		p, err := c.Nodes[n-1].Start("totemd", bins.totemd, "-f", "-c", "/etc/corosync/corosync.conf")
		if err != nil {
			b.Fatal(err)
		}
		procs[n-1] = p
		waitRing(b, seq(n), 120*time.Second, procs...)
		rejoin := time.Since(t0)

		t0 = time.Now()
		procs[n-1].Stop(10 * time.Second)
		waitRing(b, seq(n-1), 120*time.Second, procs[:n-1]...)
		stop := time.Since(t0)

		for name, d := range map[string]time.Duration{"cold_formation": cold, "kill_to_new_ring": kill, "rejoin": rejoin, "clean_stop_to_new_ring": stop} {
			emit(b, map[string]any{"bench": "membership", "nodes": n, "event": name, "ms": float64(d.Microseconds()) / 1000})
			b.ReportMetric(float64(d.Milliseconds()), name+"_ms")
		}
	}
}

func BenchmarkMembership3(b *testing.B)  { benchMembership(b, 3) }
func BenchmarkMembership16(b *testing.B) { benchMembership(b, 16) }

// BenchmarkRingThroughput multicasts through a 3-node ring with the bus
// test client: one sender, then all senders, at several message sizes,
// with one multicast in flight per sender and with a window of 64, and
// reports delivered messages per second at the slowest node.
func BenchmarkRingThroughput(b *testing.B) {
	if why := harness.Requirements(); why != "" {
		b.Skip(why)
	}
	if bins.err != nil {
		b.Fatal(bins.err)
	}
	c := harness.New(b, 3)
	if err := c.WriteConf(harness.ConfOptions{}); err != nil {
		b.Fatal(err)
	}
	var procs []*harness.Proc
	for _, nd := range c.Nodes {
		p, err := nd.Start("totemd", bins.totemd, "-f", "-c", "/etc/corosync/corosync.conf")
		if err != nil {
			b.Fatal(err)
		}
		procs = append(procs, p)
	}
	waitRing(b, "1 2 3", 60*time.Second, procs...)
	for _, window := range []int{1, 64} {
		benchThroughput(b, c, window)
	}
}

func benchThroughput(b *testing.B, c *harness.Cluster, window int) {
	for _, size := range []int{64, 1024, 16384, 65536} {
		for _, senders := range []int{1, 3} {
			count := map[int]int{64: 20000, 1024: 10000, 16384: 2000, 65536: 500}[size] / senders
			out := fmt.Sprintf("tp-%d-%d-%d.txt", size, senders, window)
			start := time.Now().Add(time.Second)
			var loads []*harness.Proc
			for i, nd := range c.Nodes {
				cnt := count
				if i >= senders {
					cnt = 0
				}
				p, err := nd.Start("busload-"+out, bins.load, "-bus", "/run/needle/bus.sock", "-out", "/run/"+out,
					"-count", fmt.Sprint(cnt), "-node", fmt.Sprint(i+1), "-size", fmt.Sprint(size), "-every", "0",
					"-window", fmt.Sprint(window), "-start", fmt.Sprint(start.UnixNano()))
				if err != nil {
					b.Fatal(err)
				}
				loads = append(loads, p)
			}
			want := count * senders
			deadline := time.Now().Add(120 * time.Second)
			var last time.Time
			for time.Now().Before(deadline) {
				done := true
				for _, nd := range c.Nodes {
					if len(deliveredMessages(nd, out)) < want {
						done = false
					}
				}
				if done {
					last = time.Now()
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, p := range loads {
				p.Stop(5 * time.Second)
			}
			if last.IsZero() {
				b.Fatalf("size %d senders %d window %d: not all %d messages delivered", size, senders, window, want)
			}
			// Speed counts only with nothing traded for it: every node
			// delivered exactly the messages sent, once each, in one order,
			// each sender's in the order it sent them.
			orders := make([][]string, len(c.Nodes))
			for i, nd := range c.Nodes {
				orders[i] = deliveredMessages(nd, out)
			}
			checkSameOrder(b, orders)
			checkSenderFIFO(b, orders[0])
			if len(orders[0]) != want {
				b.Fatalf("size %d senders %d window %d: %d messages delivered, %d sent", size, senders, window, len(orders[0]), want)
			}
			secs := last.Sub(start).Seconds()
			rate := float64(want) / secs
			emit(b, map[string]any{"bench": "ring_throughput", "nodes": 3, "senders": senders, "size_bytes": size,
				"window": window, "messages": want, "msgs_per_s": int(rate), "mb_per_s": rate * float64(size) / 1e6})
			b.ReportMetric(rate, fmt.Sprintf("msgs/s_%dB_%dsenders_w%d", size, senders, window))
		}
	}
}

// checkSenderFIFO checks that each sender's messages ("node seq" lines
// from busload) were delivered in the order it sent them, from 0 on,
// without a gap.
func checkSenderFIFO(tb testing.TB, order []string) {
	tb.Helper()
	next := map[string]int{}
	for i, m := range order {
		var node string
		var seq int
		if _, err := fmt.Sscan(m, &node, &seq); err != nil {
			tb.Fatalf("delivery %d: %q is not \"node seq\": %v", i, m, err)
		}
		if seq != next[node] {
			tb.Fatalf("delivery %d: message %d of node %s, want %d (sender order broken or a message lost)", i, seq, node, next[node])
		}
		next[node]++
	}
}
