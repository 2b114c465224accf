package main

import (
	"strings"
	"testing"
)

func TestRows(t *testing.T) {
	tests := []struct {
		name, in string
		want     []row
	}{
		{"comparison", `{"bench":"pload_vs_corosync","nodes":3,"size_bytes":300,"needle_tp_per_s":466402.0,"corosync_tp_per_s":179254.5,"needle_runtime_s":3.216,"corosync_runtime_s":8.368,"ratio":2.6}`,
			[]row{
				{name: "pload nodes=3 size_bytes=300 runtime_s", needle: "3.22", corosync: "8.37", ratio: "0.38×", note: "lower is better"},
				{name: "pload nodes=3 size_bytes=300 tp_per_s", needle: "466402", corosync: "179254", ratio: "2.60×"},
			}},
		{"latency", `{"bench":"cpg_latency_vs_corosync","corosync_p99_us":4625.792,"needle_p99_us":4623.808,"p99_ratio":0.99,"rate":1000,"senders":1,"size_bytes":1024}`,
			[]row{{name: "cpg_latency senders=1 size_bytes=1024 rate=1000 p99_us", needle: "4624", corosync: "4626", ratio: "1.00×", note: "lower is better"}}},
		{"idle cpu", `{"bench":"idle_cpu_vs_corosync","needle_cpu_ms_per_node_s":1.5,"corosync_cpu_ms_per_node_s":2}`,
			[]row{{name: "idle_cpu cpu_ms_per_node_s", needle: "1.5", corosync: "2", ratio: "0.75×", note: "lower is better"}}},
		{"ceiling", `{"bench":"raw_udp","datagram_bytes":1472,"mb_per_s":184.086}`,
			[]row{{name: "raw_udp datagram_bytes=1472", needle: "184 MB/s", note: "the ceiling: plain UDP between the namespaces"}}},
		{"crypto share", `{"bench":"cpg_crypto_share","share_1KiB":0.9,"share_64KiB":0.857}`,
			[]row{
				{name: "cpg_crypto_share 1KiB", needle: "0.9", note: "aes256+sha256 rate as a share of the plain rate (needle)"},
				{name: "cpg_crypto_share 64KiB", needle: "0.857", note: "aes256+sha256 rate as a share of the plain rate (needle)"},
			}},
		{"share of raw", `{"bench":"cpg_64KiB_share_of_raw_udp","needle_share":0.25,"corosync_share":0.125,"needle_mb_per_s":46.6,"corosync_mb_per_s":26.7}`,
			[]row{{name: "cpg_64KiB_share_of_raw_udp", needle: "0.25", corosync: "0.125", ratio: "2.00×"}}},
		{"ratios only", `{"bench":"formation_vs_corosync","nodes":3,"at_once_ratio":0.625,"one_after_another_ratio":0.4645,"needle_within_1s_of_last_start":true,"corosync_within_1s_of_last_start":false}`,
			[]row{
				{name: "formation nodes=3 at_once_ratio", ratio: "0.62×", note: "needle's time / corosync's: lower is better"},
				{name: "formation nodes=3 one_after_another_ratio", ratio: "0.46×", note: "needle's time / corosync's: lower is better"},
				{name: "formation nodes=3 within_1s_of_last_start", needle: "true", corosync: "false"},
			}},
		{"time in ms, details skipped", `{"bench":"quorum_partition_vs_corosync","side":"majority","needle_ms":3470.5,"corosync_ms":3444.0,"needle_srp":{"a":1},"corosync_srp":{"a":2}}`,
			[]row{{name: "quorum_partition side=majority ms", needle: "3470", corosync: "3444", ratio: "1.01×", note: "lower is better"}}},
		{"flat out", `{"bench":"cpg_throughput_vs_corosync","senders":1,"size_bytes":64,"rate":0,"needle_msgs_per_s":30,"corosync_msgs_per_s":10}`,
			[]row{{name: "cpg_throughput senders=1 size_bytes=64 msgs_per_s", needle: "30", corosync: "10", ratio: "3.00×"}}},
		{"one side only", `{"bench":"cpg_throughput","impl":"needle","mb_per_s":30}`, nil},
		{"not json", "BenchmarkPload-2   	       1	33614734181 ns/op\n{broken\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := read(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d rows %+v, want %+v", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestWrite(t *testing.T) {
	var b strings.Builder
	write(&b, []row{{name: "x", needle: "2", corosync: "1", ratio: "2.00×"}}, "2026-12-07", "2 cores")
	want := "needle and corosync 3.1.7 in the same run, 2026-12-07, 2 cores\n\n" +
		"| figure | needle | corosync | needle / corosync | |\n|---|---|---|---|---|\n| x | 2 | 1 | 2.00× |  |\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
