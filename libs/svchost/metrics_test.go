package svchost

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsScrape serves a daemon's metrics and parses a scrape with the
// Prometheus text-format parser: the skeleton's series are there, with
// the bus attachment and the connected clients as they are.
func TestMetricsScrape(t *testing.T) {
	r := startRig(t, &testService{}, Options{Endpoints: []string{"svcmetrics"}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(newDaemonCollector(r.d))
	ms, err := ListenMetrics("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ms.Serve(ctx)
	scrape := func() map[string]float64 {
		t.Helper()
		resp, err := http.Get("http://" + ms.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("scrape does not parse: %v", err)
		}
		out := map[string]float64{}
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				key := name
				for _, l := range m.GetLabel() {
					key += "{" + l.GetName() + "=" + l.GetValue() + "}"
				}
				switch {
				case m.Gauge != nil:
					out[key] = m.GetGauge().GetValue()
				case m.Counter != nil:
					out[key] = m.GetCounter().GetValue()
				}
			}
		}
		return out
	}
	if got := scrape()["needle_svctest_bus_attached"]; got != 0 {
		t.Fatalf("attached before any bus: %v", got)
	}
	r.accept(1)
	dialEndpoint(t, "svcmetrics")
	var last map[string]float64
	defer func() {
		if t.Failed() {
			t.Logf("last scrape: %v", last)
		}
	}()
	waitFor(t, "attached and one client", func() bool {
		m := scrape()
		last = m
		return m["needle_svctest_bus_attached"] == 1 && m["needle_svctest_clients{endpoint=svcmetrics}"] == 1
	})
	m := scrape()
	for _, k := range []string{"needle_svctest_mcast_queued{stream=ordinary}", "needle_svctest_mcasts_total{stream=sync}"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %s in %v", k, m)
		}
	}
}
