package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// corosync's log lines for a membership: TOTEM's new ring, then the quorum
// service's member list, then the end of the sync barrier.
var (
	coroRingLine    = regexp.MustCompile(`A new membership \((\S+)\) was formed`)
	coroMembersLine = regexp.MustCompile(`\] Members\[\d+\]: ([0-9 ]+\\?)`)
)

// lastCorosyncMembership is lastMembership for a corosync log.
func lastCorosyncMembership(p *harness.Proc) (ring, members string, synced bool) {
	return parseCorosyncMembership(p.Output())
}

// parseCorosyncMembership reads the last membership from a corosync log.
func parseCorosyncMembership(out string) (ring, members string, synced bool) {
	idx := coroRingLine.FindAllStringSubmatchIndex(out, -1)
	if len(idx) == 0 {
		return "", "", false
	}
	last := idx[len(idx)-1]
	ring = out[last[2]:last[3]]
	rest := out[last[1]:]
	// corosync wraps a long list over several lines, each ending in a
	// backslash but the last: "Members[32]: 1 … 24\", "Members[32]: 25 … 32".
	var ids []string
	for _, m := range coroMembersLine.FindAllStringSubmatch(rest, -1) {
		part := strings.TrimSpace(m[1])
		ids = append(ids, strings.TrimSuffix(part, "\\"))
		if !strings.HasSuffix(part, "\\") {
			break
		}
	}
	if ids == nil {
		return ring, "", false
	}
	return ring, strings.Join(strings.Fields(strings.Join(ids, " ")), " "), strings.Contains(rest, "Completed service synchronization")
}

// waitAnyRing waits until every process's log (needle's totemd or
// corosync's) reports the same synced ring with exactly the given members;
// it reports a ring that did not form in time (logging each node's last
// view) instead of failing, so a benchmark can say which side did not make
// it.
func waitAnyRing(tb testing.TB, impl, members string, timeout time.Duration, procs ...*harness.Proc) error {
	tb.Helper()
	last := lastCorosyncMembership
	if impl == "needle" {
		last = lastMembership
	}
	if _, ok := pollRing(last, members, timeout, procs); ok {
		return nil
	}
	for _, p := range procs {
		ring, m, synced := last(p)
		tb.Logf("%s node %d: ring %s members [%s] synced %v", impl, p.Node.Index+1, ring, m, synced)
	}
	return fmt.Errorf("%s: no common synced ring with members [%s] after %v", impl, members, timeout)
}

func startRingDaemon(tb testing.TB, impl string, nd *harness.Node) *harness.Proc {
	tb.Helper()
	var p *harness.Proc
	var err error
	if impl == "needle" {
		p, err = nd.Start("totemd", bins.totemd, "-f", "-c", "/etc/corosync/corosync.conf")
	} else {
		p, err = nd.Start("corosync", "corosync", "-f")
	}
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// formation is one cluster size's figures for one implementation.
type formation struct {
	atOnce, serial time.Duration   // cold formation
	stops          []time.Duration // clean stop → new ring
}

// measureFormation starts n nodes of impl at once (formation time from the
// first start) and, on a fresh cluster, one after another without waiting
// (from the last start), then stops the last node cleanly (SIGTERM) and
// restarts it stops times, timing each stop to the new ring of the others.
// A ring that does not form is reported in err, with what was measured.
func measureFormation(b *testing.B, impl string, n, stops int) (f formation, err error) {
	modes := []bool{false, true}
	// NEEDLE_FORMATION_SWAP builds the one-after-another cluster first:
	// what showed that the slow one was always the second cluster.
	if os.Getenv("NEEDLE_FORMATION_SWAP") != "" {
		modes = []bool{true, false}
	}
	for _, serial := range modes {
		c := harness.New(b, n)
		var o harness.ConfOptions
		if os.Getenv("NEEDLE_FORMATION_DEBUG") != "" { // with NEEDLE_KEEP_LOGS: why a formation was slow
			o.Logging = "to_stderr: yes\n\tto_syslog: no\n\ttimestamp: hires\n\tdebug: on"
		}
		if err := c.WriteConf(o); err != nil {
			b.Fatal(err)
		}
		procs := make([]*harness.Proc, n)
		stopAll := func() {
			for _, p := range procs {
				p.Stop(10 * time.Second)
			}
			c.Close() // before the next cluster: see harness.Cluster.Close
		}
		t0 := time.Now()
		for j, nd := range c.Nodes {
			procs[j] = startRingDaemon(b, impl, nd)
			if serial {
				t0 = time.Now()
			}
		}
		if err := waitAnyRing(b, impl, seq(n), 180*time.Second, procs...); err != nil {
			stopAll()
			return f, err
		}
		took := time.Since(t0)
		keepFormationLogs(b, impl, n, serial, took, procs)
		if !serial {
			f.atOnce = took
			stopAll()
			continue
		}
		f.serial = took
		for range stops {
			t0 := time.Now()
			if err := procs[n-1].Stop(10 * time.Second); err != nil {
				b.Fatal(err)
			}
			if err := waitAnyRing(b, impl, seq(n-1), 120*time.Second, procs[:n-1]...); err != nil {
				stopAll()
				return f, err
			}
			f.stops = append(f.stops, time.Since(t0))
			procs[n-1] = startRingDaemon(b, impl, c.Nodes[n-1])
			if err := waitAnyRing(b, impl, seq(n), 120*time.Second, procs...); err != nil {
				stopAll()
				return f, err
			}
		}
		stopAll()
	}
	return f, nil
}

// medianOr0 and maxOr0 are 0 when no clean stop was measured
// (NEEDLE_FORMATION_STOPS=0).
func medianOr0(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return median(ds)
}

func maxOr0(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

// keepFormationLogs writes every node's log of one cold formation to
// $NEEDLE_KEEP_LOGS/formation-<impl>-<n>-<at-once|serial>-<ms>/node<i>.log
// when that variable names a directory: the slow formations are rare and
// only their logs say which attempt failed.
func keepFormationLogs(b *testing.B, impl string, n int, serial bool, took time.Duration, procs []*harness.Proc) {
	root := os.Getenv("NEEDLE_KEEP_LOGS")
	if root == "" {
		return
	}
	mode := "at-once"
	if serial {
		mode = "serial"
	}
	dir := filepath.Join(root, fmt.Sprintf("formation-%s-%d-%s-%d", impl, n, mode, took.Milliseconds()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Logf("NEEDLE_KEEP_LOGS: %v", err)
		return
	}
	for i, p := range procs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("node%d.log", i+1)), []byte(p.Output()), 0o644); err != nil {
			b.Logf("NEEDLE_KEEP_LOGS: %v", err)
			return
		}
	}
	b.Logf("formation logs kept in %s", dir)
}

// BenchmarkFormation (issue 9 point 5): cold formation of 3, 16 and 32
// nodes started at once and started one after another, and 20 clean stops
// per size, needle's totemd beside corosync 3.1.7 started the same way in
// the same run, with corosync's default timers; one JSON line per figure
// and one with the ratios (needle ÷ corosync: below 1 is faster).
func BenchmarkFormation(b *testing.B) {
	needBenchBeside(b)
	sizes := []int{3, 16, 32}
	if v := os.Getenv("NEEDLE_FORMATION_SIZES"); v != "" { // e.g. "3,16"
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 2 {
				b.Fatalf("NEEDLE_FORMATION_SIZES: %q is not a cluster size", f)
			}
			sizes = append(sizes, n)
		}
	}
	// NEEDLE_FORMATION_IMPLS=needle measures one side only (no ratio
	// line then).
	impls := []string{"corosync", "needle"}
	stops := 20
	if v, err := strconv.Atoi(os.Getenv("NEEDLE_FORMATION_STOPS")); err == nil && v >= 0 {
		stops = v
	}
	if v := os.Getenv("NEEDLE_FORMATION_IMPLS"); v != "" {
		impls = strings.Split(v, ",")
	}
	for range b.N {
		for _, n := range sizes {
			figs := map[string]formation{}
			failed := false
			for _, impl := range impls {
				f, err := measureFormation(b, impl, n, stops)
				if err != nil {
					// The other side's figures still count; the line says
					// which ring did not form.
					emit(b, map[string]any{"bench": "formation", "impl": impl, "nodes": n, "error": err.Error()})
					failed = true
					if impl == "needle" {
						b.Errorf("%d nodes: %v", n, err)
					}
					continue
				}
				figs[impl] = f
				emit(b, map[string]any{"bench": "formation", "impl": impl, "nodes": n,
					"at_once_ms": ms(f.atOnce), "one_after_another_ms": ms(f.serial),
					"clean_stops": len(f.stops), "clean_stop_median_ms": ms(medianOr0(f.stops)), "clean_stop_max_ms": ms(maxOr0(f.stops))})
			}
			if failed || len(figs) < 2 {
				continue
			}
			nd, cr := figs["needle"], figs["corosync"]
			emit(b, map[string]any{"bench": "formation_vs_corosync", "nodes": n,
				"at_once_ratio": ms(nd.atOnce) / ms(cr.atOnce), "one_after_another_ratio": ms(nd.serial) / ms(cr.serial),
				"clean_stop_max_ratio":           ms(maxOr0(nd.stops)) / ms(maxOr0(cr.stops)),
				"needle_within_1s_of_last_start": nd.serial < time.Second, "corosync_within_1s_of_last_start": cr.serial < time.Second})
			b.ReportMetric(ms(nd.atOnce), fmt.Sprintf("needle_at_once_ms_%d", n))
			b.ReportMetric(ms(cr.atOnce), fmt.Sprintf("corosync_at_once_ms_%d", n))
		}
	}
}

// needBenchBeside skips a benchmark that compares needle with corosync
// where either cannot run, and fails it when needle's binaries did not
// build.
func needBenchBeside(b *testing.B) {
	b.Helper()
	needCorosync(b)
	if bins.err != nil {
		b.Fatal(bins.err)
	}
}

func TestParseCorosyncMembership(t *testing.T) {
	log := `Dec 07 00:00:20.100 notice  [TOTEM ] A new membership (1.1d) was formed. Members joined: 1
Dec 07 00:00:20.101 notice  [QUORUM] Members[1]: 1
Dec 07 00:00:20.101 notice  [MAIN  ] Completed service synchronization, ready to provide service.
Dec 07 00:00:20.962 notice  [TOTEM ] A new membership (1.21) was formed. Members joined: 2 3
Dec 07 00:00:21.142 notice  [QUORUM] Sync members[32]: 1 2 3
Dec 07 00:00:21.142 notice  [QUORUM] Members[32]: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24\
Dec 07 00:00:21.142 notice  [QUORUM] Members[32]: 25 26 27 28 29 30 31 32
Dec 07 00:00:21.142 notice  [MAIN  ] Completed service synchronization, ready to provide service.
`
	ring, members, synced := parseCorosyncMembership(log)
	if ring != "1.21" || members != seq(32) || !synced {
		t.Fatalf("got ring %q members %q synced %v", ring, members, synced)
	}
	ring, members, synced = parseCorosyncMembership(log[:strings.Index(log, "Dec 07 00:00:21.142 notice  [MAIN")])
	if ring != "1.21" || members != seq(32) || synced {
		t.Fatalf("before the sync's end: ring %q members %q synced %v", ring, members, synced)
	}
}
