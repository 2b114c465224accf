package main

import (
	"context"
	"strconv"
	"time"

	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/totemd/internal/node"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// totemCollector reports the ring (an unchecked collector: the service
// set varies). Each scrape reads the node on its goroutine.
type totemCollector struct {
	n                                             *node.Node
	state, ring, members, queueAvail, backlog     *prometheus.Desc
	counters, packets, bytes, dropped, sendErrors *prometheus.Desc
	busToService, busWaiting                      *prometheus.Desc
}

func newTotemCollector(n *node.Node) *totemCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("needle_totemd_"+name, help, labels, nil)
	}
	return &totemCollector{n: n,
		state:        d("state", "1 for the protocol state the node is in.", "state"),
		ring:         d("ring_seq", "Sequence number of the ring in force (its representative as a label).", "rep"),
		members:      d("members", "Members of the ring in force."),
		queueAvail:   d("srp_queue_avail", "Free slots in the new-message queue."),
		backlog:      d("srp_backlog", "Messages waiting in the new-message queue."),
		counters:     d("srp_events_total", "Totem SRP protocol events (corosync's runtime.totem.pg.mrp.srp.* counters), by event.", "event"),
		packets:      d("packets_total", "Datagrams, by direction.", "direction"),
		bytes:        d("bytes_total", "Datagram bytes as on the wire, by direction.", "direction"),
		dropped:      d("packets_dropped_total", "Datagrams received and dropped, by reason.", "reason"),
		sendErrors:   d("send_errors_total", "Datagrams the kernel refused to send (Totem retransmits)."),
		busToService: d("bus_queued", "Bus messages waiting to be written to a service daemon.", "service"),
		busWaiting:   d("bus_mcast_waiting", "A service daemon's multicasts held for room in the new-message queue.", "service"),
	}
}

func (c *totemCollector) Describe(chan<- *prometheus.Desc) {}

func (c *totemCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := c.n.Metrics(ctx)
	if err != nil {
		return // the node is stopping or stuck: an empty scrape says so
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	for _, s := range []struct {
		name string
		st   srp.State
	}{{"operational", srp.Operational}, {"gather", srp.Gather}, {"commit", srp.Commit}, {"recovery", srp.Recovery}} {
		v := 0.0
		if m.SRP.State == s.st {
			v = 1
		}
		gauge(c.state, v, s.name)
	}
	gauge(c.ring, float64(m.SRP.Ring.Seq), strconv.FormatUint(uint64(m.SRP.Ring.Rep), 10))
	gauge(c.members, float64(len(m.SRP.Members)))
	gauge(c.queueAvail, float64(m.QueueAvail))
	gauge(c.backlog, float64(m.SRP.Backlog))
	k := m.SRP.Counters
	for event, v := range map[string]uint64{
		"orf_token_tx": k.OrfTokenTx, "orf_token_rx": k.OrfTokenRx, "mcast_tx": k.MemoMcastTx, "mcast_rx": k.MemoMcastRx,
		"mcast_retx": k.RxRetransmits, "token_retransmit": k.TokenRetransmits, "token_lost": k.TokenLost,
		"memb_join_tx": k.MembJoinTx, "memb_join_rx": k.MembJoinRx, "operational_entered": k.OperationalEntered,
		"gather_entered": k.GatherEntered, "commit_entered": k.CommitEntered, "recovery_entered": k.RecoveryEntered,
		"consensus_timeouts": k.ConsensusTimeouts, "rx_msg_dropped": k.DecodeErrors,
	} {
		counter(c.counters, v, event)
	}
	t := m.Transport
	counter(c.packets, t.Sent, "out")
	counter(c.packets, t.Received, "in")
	counter(c.bytes, t.SentBytes, "out")
	counter(c.bytes, t.ReceivedBytes, "in")
	for reason, v := range map[string]uint64{"authentication": t.DroppedAuth, "replay": t.DroppedReplay,
		"unlisted_source": t.DroppedUnlisted, "size": t.DroppedSize} {
		counter(c.dropped, v, reason)
	}
	counter(c.sendErrors, t.SendErrors)
	for _, s := range m.Services {
		gauge(c.busToService, float64(s.ToService), s.Name)
		gauge(c.busWaiting, float64(s.Waiting), s.Name)
	}
}

// serveMetrics serves the node's metrics at addr until ctx ends; a bad
// address is an error at start-up.
func serveMetrics(ctx context.Context, addr string, n *node.Node) (*svchost.MetricsServer, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newTotemCollector(n), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ms, err := svchost.ListenMetrics(addr, reg)
	if err != nil {
		return nil, err
	}
	go ms.Serve(ctx)
	return ms, nil
}
