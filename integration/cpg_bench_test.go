package integration

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// cpgRow is one benchmark row: a message size and a sender count, or the
// paced latency row.
type cpgRow struct {
	name    string
	size    int
	senders int
	total   int     // messages over all senders
	rate    float64 // per second from each sender; 0 = flat out
}

// cpgRows are the rows of issue 11 point 6: 64 B / 1 KiB / 16 KiB /
// 64 KiB with one sender and with all three, then 1 KiB × 1000 msg/s
// from one sender for latency.
func cpgRows() []cpgRow {
	var rows []cpgRow
	scale := 1.0 // NEEDLE_CPG_SCALE: longer (less noisy, profilable) or shorter rows
	if v, err := strconv.ParseFloat(os.Getenv("NEEDLE_CPG_SCALE"), 64); err == nil && v > 0 {
		scale = v
	}
	for _, size := range []int{64, 1024, 16384, 65536} {
		for _, senders := range []int{1, 3} {
			total := int(float64(map[int]int{64: 30000, 1024: 15000, 16384: 3000, 65536: 900}[size]) * scale)
			total -= total % 3 // the senders' shares add up to it
			rows = append(rows, cpgRow{name: "throughput", size: size, senders: senders, total: total})
		}
	}
	rows = append(rows, cpgRow{name: "latency", size: 1024, senders: 1, total: int(3000 * scale), rate: 1000})
	return selectRows(rows, os.Getenv("NEEDLE_CPG_ROWS"))
}

// selectRows keeps the rows whose key (rowKey: "1024B_1senders",
// "1024B_1000per_s") one of the comma-separated names in sel is part of;
// "" keeps every row. A way to rerun, or profile, the rows being worked on.
func selectRows(rows []cpgRow, sel string) []cpgRow {
	if sel == "" {
		return rows
	}
	var kept []cpgRow
	for _, r := range rows {
		for _, name := range strings.Split(sel, ",") {
			if name != "" && strings.Contains(rowKey(r), name) {
				kept = append(kept, r)
				break
			}
		}
	}
	return kept
}

// cpgFigure is what a row measured: the slowest node's delivery rate and
// the worst node's latency percentiles.
type cpgFigure struct {
	msgsPerS, mbPerS, p50, p99, max float64
}

// runCpgRows runs every row on cluster c (whichever implementation
// serves cpg there), checks lost 0 and one order per row, and prints one
// JSON line per row.
func runCpgRows(b *testing.B, c *harness.Cluster, impl string, rows []cpgRow) map[string]cpgFigure {
	figs := map[string]cpgFigure{}
	withSRP := os.Getenv("NEEDLE_CPG_SRP") != "" // each row's Totem counters (srpDelta), a diagnosis
	for i, row := range rows {
		counts := make([]int, len(c.Nodes))
		for k := 0; k < row.senders; k++ {
			counts[k] = row.total / row.senders
		}
		var extra []string
		if row.rate > 0 {
			extra = []string{"--rate", fmt.Sprint(row.rate)}
		}
		var srpBefore []map[string]uint64
		if withSRP {
			srpBefore = srpStatsAll(b, c)
		}
		began := time.Now()
		rs := runCpgload(b, c, fmt.Sprintf("bench%d", i), row.size, counts, extra...)
		if withSRP {
			emit(b, map[string]any{"bench": "cpg_srp", "impl": impl, "row": rowKey(row), "srp": srpDelta(b, c, srpBefore, time.Since(began))})
		}
		want := uint64(row.total / row.senders * row.senders)
		checkOneOrder(b, rs, want)
		f := cpgFigure{msgsPerS: rs[0].MsgsPerS, mbPerS: rs[0].MBPerS}
		var tryAgain uint64
		for _, r := range rs {
			if r.MsgsPerS < f.msgsPerS {
				f.msgsPerS, f.mbPerS = r.MsgsPerS, r.MBPerS
			}
			f.p50, f.p99, f.max = max(f.p50, r.P50us), max(f.p99, r.P99us), max(f.max, r.MaxUs)
			tryAgain += r.TryAgain
		}
		key := rowKey(row)
		figs[key] = f
		emit(b, map[string]any{"bench": "cpg_" + row.name, "impl": impl, "nodes": len(c.Nodes), "senders": row.senders,
			"size_bytes": row.size, "rate": row.rate, "messages": want, "msgs_per_s": int(f.msgsPerS), "mb_per_s": f.mbPerS,
			"latency_p50_us": f.p50, "latency_p99_us": f.p99, "latency_max_us": f.max, "try_again": tryAgain,
			"lost": 0, "order_hash": rs[0].OrderHash})
		b.ReportMetric(f.msgsPerS, fmt.Sprintf("%s_msgs/s_%s", impl, key))
	}
	return figs
}

func rowKey(r cpgRow) string {
	if r.rate > 0 {
		return fmt.Sprintf("%dB_%.0fper_s", r.size, r.rate)
	}
	return fmt.Sprintf("%dB_%dsenders", r.size, r.senders)
}

// emitRatios prints needle's figure beside corosync's with the ratio
// (throughput: needle/corosync, ≥ 1 is better; latency: needle p99 and
// corosync p99, ratio needle/corosync, ≤ 1 is better).
// variant names the corosync run compared with (its lines are
// cpg_<row><variant>_vs_corosync).
func emitRatios(b *testing.B, variant string, rows []cpgRow, needle, corosync map[string]cpgFigure) {
	for _, row := range rows {
		k := rowKey(row)
		n, c := needle[k], corosync[k]
		line := map[string]any{"bench": "cpg_" + row.name + variant + "_vs_corosync", "senders": row.senders, "size_bytes": row.size, "rate": row.rate}
		if row.rate > 0 {
			line["needle_p50_us"], line["corosync_p50_us"] = n.p50, c.p50
			line["needle_p99_us"], line["corosync_p99_us"] = n.p99, c.p99
			if c.p99 > 0 {
				line["p99_ratio"] = n.p99 / c.p99
			}
		} else {
			line["needle_msgs_per_s"], line["corosync_msgs_per_s"] = int(n.msgsPerS), int(c.msgsPerS)
			if c.msgsPerS > 0 {
				line["ratio"] = n.msgsPerS / c.msgsPerS
			}
		}
		emit(b, line)
	}
}

// BenchmarkCPG runs cpgload's rows on a 3-node Debian corosync 3.1.7
// cluster and, where cpgd can be built, on a 3-node needle cluster
// (totemd + cpgd), then prints the ratios.
func BenchmarkCPG(b *testing.B) {
	if why := harness.Requirements(); why != "" {
		b.Skip(why)
	}
	if !harness.HaveCorosync() {
		b.Skip("corosync not installed")
	}
	buildCpgBins(b)
	rows := cpgRows()
	var paced []cpgRow // the latency rows, run again on corosync at normal priority
	for _, r := range rows {
		if r.rate > 0 {
			paced = append(paced, r)
		}
	}
	for i := 0; i < b.N; i++ {
		c, procs := corosyncCluster(b, 3, harness.ConfOptions{})
		coro := runCpgRows(b, c, "corosync", rows)
		for _, p := range procs {
			p.Stop(10 * time.Second)
		}
		// corosync as shipped runs SCHED_RR at priority 99, needle's
		// daemons at normal priority (libs/svchost/sched.go says why):
		// the latency rows again on corosync with system.sched_rr: no
		// show what the scheduling class does to corosync's latency.
		var normal map[string]cpgFigure
		if len(paced) > 0 {
			c, procs := corosyncCluster(b, 3, harness.ConfOptions{System: "sched_rr: no"})
			normal = runCpgRows(b, c, "corosync_sched_rr_no", paced)
			for _, p := range procs {
				p.Stop(10 * time.Second)
			}
		}
		if !haveCpgd(b) {
			b.Log("cpgd not built: corosync rows only")
			continue
		}
		nc := needleCpgCluster(b, 3, harness.ConfOptions{})
		ndl := runCpgRows(b, nc.c, "needle", rows)
		emitRatios(b, "", rows, ndl, coro)
		emitRatios(b, "_sched_rr_no", paced, ndl, normal)
	}
}
