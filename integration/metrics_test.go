package integration

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsPorts are where each daemon serves /metrics in the test's
// corosync.conf (needle { metrics { … } }), on the node's loopback.
var metricsPorts = map[string]string{"totemd": "9405", "cmapd": "9406", "quorumd": "9407", "cpgd": "9408"}

// TestMetricsAndReadiness (issue 14, points 2 and 5): every daemon of a
// two-node cluster, configured by the file's needle.metrics.* keys,
// serves Prometheus metrics that the Prometheus text-format parser reads,
// with the series an admin's dashboard needs; and each tells systemd it is
// ready (sd_notify READY=1 on NOTIFY_SOCKET) once attached and synced.
func TestMetricsAndReadiness(t *testing.T) {
	needNamespaces(t)
	needCmapd(t)
	needQuorumtool(t)
	if !haveCpgd(t) {
		t.Skip("cpgd does not build")
	}
	c := harness.New(t, 2)
	var sect strings.Builder
	sect.WriteString("\nneedle {\n\tmetrics {\n")
	for d, port := range metricsPorts {
		sect.WriteString("\t\t" + d + ": 127.0.0.1:" + port + "\n")
	}
	sect.WriteString("\t}\n}\n")
	conf := append(c.CorosyncConf(harness.ConfOptions{Token: 1000}), sect.String()...)
	for _, nd := range c.Nodes {
		if err := nd.WriteFile("etc/corosync.conf", conf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// systemd's notification socket, one per node, read by the test.
	ready := make(chan string, 16)
	sockets := make([]string, len(c.Nodes))
	for i := range c.Nodes {
		sockets[i] = filepath.Join(t.TempDir(), "notify.sock")
		ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockets[i], Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			buf := make([]byte, 4096)
			for {
				n, _, err := ln.ReadFromUnix(buf)
				if err != nil {
					return
				}
				ready <- string(buf[:n])
			}
		}()
	}
	var procs []*harness.Proc
	dumpOnFailure(t, &procs)
	bin := map[string]string{"totemd": bins.totemd, "cmapd": cmapBins.cmapd, "quorumd": quorumBins.quorumd, "cpgd": cpgdBin.path}
	for i, nd := range c.Nodes {
		for _, d := range []string{"totemd", "cmapd", "quorumd", "cpgd"} {
			p, err := nd.Start(d, "env", "NOTIFY_SOCKET="+sockets[i], bin[d], "-f", "-c", "/etc/corosync/corosync.conf")
			if err != nil {
				t.Fatal(err)
			}
			procs = append(procs, p)
		}
	}
	deadline := time.After(30 * time.Second)
	for got := 0; got < 4*len(c.Nodes); {
		select {
		case m := <-ready:
			if !strings.Contains(m, "READY=1") {
				t.Fatalf("notification %q", m)
			}
			got++
		case <-deadline:
			t.Fatalf("%d of %d daemons told systemd they are ready", got, 4*len(c.Nodes))
		}
	}
	waitMembers(t, c.Nodes[0], []int{1, 2}, 20*time.Second)

	want := map[string][]string{
		"totemd":  {"needle_totemd_members", "needle_totemd_state", "needle_totemd_ring_seq", "needle_totemd_srp_events_total", "needle_totemd_bytes_total", "needle_totemd_packets_dropped_total", "needle_totemd_bus_queued", "process_resident_memory_bytes"},
		"cmapd":   {"needle_cmapd_keys", "needle_cmapd_tracks", "needle_cmapd_clients", "needle_cmapd_bus_attached"},
		"quorumd": {"needle_quorumd_quorate", "needle_quorumd_votes", "needle_quorumd_qdevice", "needle_quorumd_client_events_queued"},
		"cpgd":    {"needle_cpgd_groups", "needle_cpgd_members", "needle_cpgd_try_again_total", "needle_cpgd_client_mcasts_total"},
	}
	values := map[string]float64{}
	for d, names := range want {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := c.Nodes[0].Run(ctx, bins.scrape, "http://127.0.0.1:"+metricsPorts[d]+"/metrics")
		cancel()
		if err != nil {
			t.Fatalf("scrape %s: %v", d, err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%s's metrics do not parse: %v\n%s", d, err, out)
		}
		for _, n := range names {
			if fams[n] == nil {
				t.Errorf("%s: no %s", d, n)
			}
		}
		for name, f := range fams {
			if len(f.GetMetric()) == 1 && f.GetMetric()[0].GetGauge() != nil {
				values[name] = f.GetMetric()[0].GetGauge().GetValue()
			}
		}
	}
	if values["needle_totemd_members"] != 2 || values["needle_quorumd_quorate"] != 1 || values["needle_cmapd_bus_attached"] != 1 {
		t.Errorf("members %v, quorate %v, cmapd attached %v; want 2, 1, 1", values["needle_totemd_members"],
			values["needle_quorumd_quorate"], values["needle_cmapd_bus_attached"])
	}
}
