package integration

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// Issue 10, point 8: the time from a partition to the quorum-change
// callback at a quorum-API client (integration/cmd/quorumwatch, libquorum's
// protocol), on the majority side and on the minority side of a 3-node
// cluster split 2|1, for Debian's corosync 3.1.7 and for needle (totemd +
// cmapd + quorumd) with the same corosync.conf (token 1000 ms, so
// consensus 1200 ms) in the same run.

// quorumPartitionRounds partitions and heals this many times per
// implementation; the figures are the median round.
const quorumPartitionRounds = 3

var quorumwatchBin struct {
	once sync.Once
	path string
	err  error
}

func needQuorumwatch(tb testing.TB) string {
	tb.Helper()
	quorumwatchBin.once.Do(func() {
		quorumwatchBin.path = filepath.Join(bins.dir, "quorumwatch")
		if b, err := exec.Command("go", "build", "-o", quorumwatchBin.path, "./cmd/quorumwatch").CombinedOutput(); err != nil {
			quorumwatchBin.err = fmt.Errorf("go build ./cmd/quorumwatch: %v: %s", err, b)
		}
	})
	if quorumwatchBin.err != nil {
		tb.Fatal(quorumwatchBin.err)
	}
	return quorumwatchBin.path
}

// watchEvent is one line of quorumwatch's output.
type watchEvent struct {
	UnixNs  int64    `json:"unix_ns"`
	Ready   bool     `json:"ready"`
	Quorate *bool    `json:"quorate"`
	RingSeq uint64   `json:"ring_seq"`
	View    []uint32 `json:"view"`
}

func watchEvents(p *harness.Proc) []watchEvent {
	var out []watchEvent
	for _, l := range strings.Split(p.Output(), "\n") {
		var e watchEvent
		if json.Unmarshal([]byte(l), &e) == nil && e.UnixNs != 0 {
			out = append(out, e)
		}
	}
	return out
}

// firstAfter is the first notification at or after t with the given
// quorate state and view size.
func firstAfter(p *harness.Proc, t time.Time, quorate bool, members int) (time.Time, bool) {
	for _, e := range watchEvents(p) {
		if e.Quorate != nil && *e.Quorate == quorate && len(e.View) == members && e.UnixNs >= t.UnixNano() {
			return time.Unix(0, e.UnixNs), true
		}
	}
	return time.Time{}, false
}

// waitWatch waits until every watcher got, at or after since, a
// notification with the given quorate state and view size, and returns
// when each arrived.
func waitWatch(tb testing.TB, watchers []*harness.Proc, since time.Time, quorate bool, members int, timeout time.Duration) []time.Time {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var at []time.Time
		for _, w := range watchers {
			if t, ok := firstAfter(w, since, quorate, members); ok {
				at = append(at, t)
			}
		}
		if len(at) == len(watchers) {
			return at
		}
		if time.Now().After(deadline) {
			for _, w := range watchers {
				tb.Logf("node %d quorumwatch:\n%s", w.Node.Index+1, w.Output())
			}
			tb.Fatalf("after %v, not every quorum client was told quorate=%v with %d members", timeout, quorate, members)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// quorumPartitionTimes starts a 3-node cluster of impl ("corosync" or
// "needle"), a quorumwatch on every node, then partitions node 3 away and
// heals quorumPartitionRounds times. It returns, per round, the time from
// the partition to the slower majority node's callback (quorate, 2
// members) and to the minority node's (not quorate, 1 member).
func quorumPartitionTimes(b *testing.B, impl string, o harness.ConfOptions) (majority, minority []time.Duration) {
	c := harness.New(b, 3)
	if err := c.WriteConf(o); err != nil {
		b.Fatal(err)
	}
	var procs []*harness.Proc
	start := func(nd *harness.Node, name, bin string, args ...string) {
		p, err := nd.Start(name, append([]string{bin}, args...)...)
		if err != nil {
			b.Fatal(err)
		}
		procs = append(procs, p)
	}
	b.Cleanup(func() {
		for _, p := range slices.Backward(procs) {
			p.Stop(10 * time.Second)
		}
	})
	for _, nd := range c.Nodes {
		if impl == "corosync" {
			start(nd, "corosync", "corosync", "-f")
			continue
		}
		start(nd, "totemd", bins.totemd, "-f", "-c", "/etc/corosync/corosync.conf")
		start(nd, "cmapd", cmapBins.cmapd, "-f")
		start(nd, "quorumd", quorumBins.quorumd, "-f")
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, nd := range c.Nodes {
		for {
			r := quorumtool(b, nd, debianQuorumtool, "-s")
			if r.Code == 0 && strings.Contains(r.Stdout, "\nNodes:            3\n") {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s node %d not quorate with 3 nodes:\n%s", impl, nd.Index+1, r)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	watch := needQuorumwatch(b)
	watchers := make([]*harness.Proc, len(c.Nodes))
	for i, nd := range c.Nodes {
		p, err := nd.Start("quorumwatch", watch)
		if err != nil {
			b.Fatal(err)
		}
		watchers[i] = p
		procs = append(procs, p)
	}
	waitWatch(b, watchers, time.Time{}, true, 3, 30*time.Second)

	for round := 1; round <= quorumPartitionRounds; round++ {
		if err := c.Partition([]int{2}); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now() // the partition is in place
		maj := waitWatch(b, watchers[:2], t0, true, 2, 60*time.Second)
		mnr := waitWatch(b, watchers[2:], t0, false, 1, 60*time.Second)
		majority = append(majority, max(maj[0].Sub(t0), maj[1].Sub(t0)))
		minority = append(minority, mnr[0].Sub(t0))
		emit(b, map[string]any{"bench": "quorum_partition", "impl": impl, "nodes": 3, "token_ms": o.Token, "round": round,
			"majority_ms": ms(majority[len(majority)-1]), "minority_ms": ms(minority[len(minority)-1])})

		if err := c.Heal(); err != nil {
			b.Fatal(err)
		}
		waitWatch(b, watchers, time.Now(), true, 3, 60*time.Second)
		// Let the merged ring settle before the next partition.
		time.Sleep(2 * time.Second)
	}
	return majority, minority
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkQuorumPartition prints, for each implementation, one JSON line
// per round, then one line per side with both medians and the ratio
// needle ÷ corosync (≤ 1: needle tells the client sooner).
func BenchmarkQuorumPartition(b *testing.B) {
	needBenchBeside(b)
	needCmapd(b)
	needQuorumtool(b)
	o := harness.ConfOptions{Token: 1000}
	for i := 0; i < b.N; i++ {
		cMaj, cMin := quorumPartitionTimes(b, "corosync", o)
		nMaj, nMin := quorumPartitionTimes(b, "needle", o)
		for _, side := range []struct {
			name   string
			needle []time.Duration
			coro   []time.Duration
		}{{"majority", nMaj, cMaj}, {"minority", nMin, cMin}} {
			n, c := median(side.needle), median(side.coro)
			emit(b, map[string]any{"bench": "quorum_partition_vs_corosync", "side": side.name, "nodes": 3, "token_ms": o.Token,
				"rounds": quorumPartitionRounds, "needle_ms": ms(n), "corosync_ms": ms(c), "ratio": float64(n) / float64(c)})
			b.ReportMetric(ms(n), "needle_"+side.name+"_ms")
			b.ReportMetric(ms(c), "corosync_"+side.name+"_ms")
		}
	}
}
