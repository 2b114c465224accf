// Command benchtable turns the benchmark lines of `make bench` (one JSON
// object per line, the integration benchmarks' emit) into the side-by-side
// table the README shows: every figure measured on needle and on corosync
// 3.1.7 in the same run, with needle's value as a share of corosync's. A
// line with needle_X and corosync_X fields gives one row per X; lines
// that are no comparison but a share or a ceiling (raw UDP, crypto share,
// 64 KiB share of raw UDP) give their own rows. Everything else (Go's
// benchmark lines, per-implementation details) is skipped.
//
//	go test -run '^$' -bench . ./integration/... | benchtable -machine "2 cores"
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

func main() {
	machine := flag.String("machine", "", "the machine, for the table's heading")
	flag.Parse()
	rows, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	write(os.Stdout, rows, time.Now().UTC().Format("2006-01-02"), *machine)
}

// row is one line of the table.
type row struct {
	name             string
	needle, corosync string
	ratio            string
	note             string // "lower is better" and the like
}

// params name a row: the fields that say which configuration a line
// measured, in this order.
var params = []string{"nodes", "senders", "size_bytes", "rate", "side", "event", "count", "token_ms", "datagram_bytes"}

// read parses the benchmark output; lines that are not JSON objects with a
// "bench" field are skipped.
func read(r io.Reader) ([]row, error) {
	var rows []row
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			continue // a log line that happens to start with a brace
		}
		bench, _ := m["bench"].(string)
		if bench == "" {
			continue
		}
		rows = append(rows, rowsOf(bench, m)...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the benchmark output: %w", err)
	}
	return rows, nil
}

// rowsOf are the table rows of one benchmark line.
func rowsOf(bench string, m map[string]any) []row {
	name := strings.TrimSuffix(bench, "_vs_corosync") + describe(m)
	var out []row
	switch bench {
	case "raw_udp":
		return []row{{name: name, needle: num(m["mb_per_s"]) + " MB/s", note: "the ceiling: plain UDP between the namespaces"}}
	case "cpg_crypto_share":
		for _, k := range []string{"share_1KiB", "share_64KiB"} {
			if v, ok := m[k]; ok {
				out = append(out, row{name: bench + " " + strings.TrimPrefix(k, "share_"), needle: num(v),
					note: "aes256+sha256 rate as a share of the plain rate (needle)"})
			}
		}
		return out
	case "cpg_64KiB_share_of_raw_udp":
		return []row{{name: bench, needle: num(m["needle_share"]), corosync: num(m["corosync_share"]),
			ratio: ratio(m["needle_share"], m["corosync_share"])}}
	}
	var keys []string
	for k := range m {
		if s, ok := strings.CutPrefix(k, "needle_"); ok {
			if _, both := m["corosync_"+s]; both && scalar(m[k]) {
				keys = append(keys, s)
			}
		}
	}
	slices.Sort(keys)
	if !anyNumeric(m, keys) {
		// Only ratios were emitted (formation: needle's time over
		// corosync's per way of starting): one row each.
		var rs []string
		for k := range m {
			if strings.HasSuffix(k, "ratio") {
				rs = append(rs, k)
			}
		}
		slices.Sort(rs)
		for _, k := range rs {
			out = append(out, row{name: name + " " + k, ratio: fmt.Sprintf("%.2f×", m[k]), note: "needle's time / corosync's: lower is better"})
		}
	}
	for _, k := range keys {
		r := row{name: name + " " + k, needle: num(m["needle_"+k]), corosync: num(m["corosync_"+k]),
			ratio: ratio(m["needle_"+k], m["corosync_"+k])}
		if lowerIsBetter(k) {
			r.note = "lower is better"
		}
		out = append(out, r)
	}
	return out
}

// anyNumeric says whether one of the needle_/corosync_ pairs is a number.
func anyNumeric(m map[string]any, keys []string) bool {
	for _, k := range keys {
		if _, ok := m["needle_"+k].(float64); ok {
			return true
		}
	}
	return false
}

// scalar says whether v is a figure for a table cell (not an object).
func scalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

// describe is a line's configuration, " nodes=3 size_bytes=1024", from the
// fields in params.
func describe(m map[string]any) string {
	var b strings.Builder
	for _, p := range params {
		if v, ok := m[p]; ok && !(p == "rate" && v == 0.0) { // rate 0: flat out
			fmt.Fprintf(&b, " %s=%s", p, num(v))
		}
	}
	return b.String()
}

// lowerIsBetter says whether a figure is a time or a cost (latencies in
// µs or ms, a run time in s, CPU), where a ratio below 1 favours needle.
func lowerIsBetter(k string) bool {
	return strings.HasSuffix(k, "_us") || k == "ms" || strings.HasSuffix(k, "_ms") || strings.HasSuffix(k, "runtime_s") ||
		strings.Contains(k, "cpu")
}

func num(v any) string {
	f, ok := v.(float64)
	switch {
	case !ok:
		return fmt.Sprint(v)
	case f == float64(int64(f)):
		return fmt.Sprint(int64(f))
	case f >= 100:
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.3g", f)
}

func ratio(n, c any) string {
	nf, ok1 := n.(float64)
	cf, ok2 := c.(float64)
	if !ok1 || !ok2 || cf == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", nf/cf)
}

// write prints the rows as a Markdown table.
func write(w io.Writer, rows []row, date, machine string) {
	head := "needle and corosync 3.1.7 in the same run, " + date
	if machine != "" {
		head += ", " + machine
	}
	fmt.Fprintf(w, "%s\n\n", head)
	fmt.Fprintln(w, "| figure | needle | corosync | needle / corosync | |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.name, r.needle, r.corosync, r.ratio, r.note)
	}
}
