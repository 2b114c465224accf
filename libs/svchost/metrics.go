package svchost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsKey is the corosync.conf key naming where a daemon serves its
// Prometheus metrics (needle { metrics { cpgd: 127.0.0.1:9407 } });
// corosync accepts and ignores the section. Off when absent.
func MetricsKey(program string) string { return "needle.metrics." + program }

// MetricsSource is implemented by a Service with metrics of its own.
// CollectMetrics runs on the owner goroutine at each scrape, so it reads
// the service's state as it is between two events.
type MetricsSource interface {
	CollectMetrics(add func(prometheus.Metric))
}

// scrapeWait bounds how long a scrape waits for the owner goroutine.
const scrapeWait = 5 * time.Second

// daemonCollector gathers the skeleton's metrics and the service's on the
// owner goroutine. It is an unchecked collector (Describe sends nothing):
// the service's metric set may vary (one series per group, per client).
type daemonCollector struct {
	d                                 *Daemon
	attached, clients, queued, pushed *prometheus.Desc
	events, eventBytes                *prometheus.Desc
}

func newDaemonCollector(d *Daemon) *daemonCollector {
	ns := "needle_" + metricName(d.opts.Program)
	return &daemonCollector{d: d,
		attached: prometheus.NewDesc(ns+"_bus_attached", "1 while the daemon is attached to totemd's service bus.", nil, nil),
		clients:  prometheus.NewDesc(ns+"_clients", "Connected libqb clients, by endpoint.", []string{"endpoint"}, nil),
		queued: prometheus.NewDesc(ns+"_mcast_queued", "Multicasts accepted from the service and not yet acknowledged by totemd, by stream.",
			[]string{"stream"}, nil),
		pushed: prometheus.NewDesc(ns+"_mcasts_total", "Multicasts the service queued for the ring, by stream.", []string{"stream"}, nil),
		events: prometheus.NewDesc(ns+"_client_events_queued", "Events waiting for clients to read them, summed over an endpoint's clients.",
			[]string{"endpoint"}, nil),
		eventBytes: prometheus.NewDesc(ns+"_client_events_queued_bytes", "Bytes of those events.", []string{"endpoint"}, nil),
	}
}

func (c *daemonCollector) Describe(chan<- *prometheus.Desc) {}

func (c *daemonCollector) Collect(ch chan<- prometheus.Metric) {
	var ms []prometheus.Metric
	done := make(chan struct{})
	if !c.d.Post(func() { ms = c.gather(); close(done) }) {
		return
	}
	select {
	case <-done:
	case <-time.After(scrapeWait):
		return // the owner is stuck or stopping: an empty scrape says so
	}
	for _, m := range ms {
		ch <- m
	}
}

// gather runs on the owner goroutine.
func (c *daemonCollector) gather() []prometheus.Metric {
	d := c.d
	var ms []prometheus.Metric
	add := func(m prometheus.Metric) { ms = append(ms, m) }
	attached := 0.0
	if d.bus.conn != nil {
		attached = 1
	}
	add(prometheus.MustNewConstMetric(c.attached, prometheus.GaugeValue, attached))
	for _, ep := range d.endpoints {
		cls := ep.Clients()
		var n, bytes int64
		for _, cl := range cls {
			st := cl.Conn.Stats()
			n += int64(st.EventsQueued)
			bytes += st.EventsQueuedBytes
		}
		add(prometheus.MustNewConstMetric(c.clients, prometheus.GaugeValue, float64(len(cls)), ep.cfg.Service))
		add(prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(n), ep.cfg.Service))
		add(prometheus.MustNewConstMetric(c.eventBytes, prometheus.GaugeValue, float64(bytes), ep.cfg.Service))
	}
	for _, s := range []struct {
		name string
		q    *mcastQueue
	}{{"ordinary", d.bus.q}, {"sync", d.bus.sq}} {
		add(prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(s.q.pushed-s.q.resolved), s.name))
		add(prometheus.MustNewConstMetric(c.pushed, prometheus.CounterValue, float64(s.q.pushed), s.name))
	}
	if src, ok := d.svc.(MetricsSource); ok {
		src.CollectMetrics(add)
	}
	return ms
}

// MetricsServer serves one registry over HTTP at /metrics.
type MetricsServer struct {
	ln  net.Listener
	srv *http.Server
}

// ListenMetrics binds addr (host:port) for reg's /metrics; the error
// names the address.
func ListenMetrics(addr string, reg *prometheus.Registry) (*MetricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return &MetricsServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}, nil
}

// Addr is the bound address (a port 0 was given one).
func (s *MetricsServer) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until ctx ends.
func (s *MetricsServer) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		s.srv.Close()
	}()
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// metricName makes s usable in a metric name ([a-zA-Z0-9_]).
func metricName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
