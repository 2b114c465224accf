package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric descriptions (cpgd's own; the skeleton adds needle_cpgd_* bus,
// client and event-queue series).
var (
	mGroups    = prometheus.NewDesc("needle_cpgd_groups", "Process groups with at least one member in the cluster.", nil, nil)
	mProcesses = prometheus.NewDesc("needle_cpgd_members", "Group members (processes) in the cluster, by where they run.", []string{"node"}, nil)
	mMcasts    = prometheus.NewDesc("needle_cpgd_client_mcasts_total", "Multicasts accepted from this node's clients.", nil, nil)
	mRingBytes = prometheus.NewDesc("needle_cpgd_ring_bytes_total", "Bytes of cpg messages the ring accepted from this node.", nil, nil)
	mTryAgain  = prometheus.NewDesc("needle_cpgd_try_again_total", "Requests answered CS_ERR_TRY_AGAIN (sync in progress or queue full).", nil, nil)
	mLost      = prometheus.NewDesc("needle_cpgd_ring_refused_total", "Multicasts the ring refused for good (too big).", nil, nil)
	mHeld      = prometheus.NewDesc("needle_cpgd_held_messages", "Ring messages held while a sync round runs.", nil, nil)
	mRejected  = prometheus.NewDesc("needle_cpgd_ring_messages_rejected_total", "Ring messages not delivered, by reason.", []string{"reason"}, nil)
)

// CollectMetrics reports groups and traffic (svchost.MetricsSource).
func (s *service) CollectMetrics(add func(prometheus.Metric)) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		add(prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...))
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		add(prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	counter(mMcasts, s.mcasts)
	counter(mRingBytes, s.ringBytes)
	counter(mTryAgain, s.tryAgain)
	counter(mLost, s.lost)
	if s.core == nil {
		return
	}
	groups := map[string]bool{}
	local, remote := 0, 0
	for _, p := range s.core.ProcessList() {
		groups[p.Group] = true
		if p.NodeID == s.core.NodeID() {
			local++
		} else {
			remote++
		}
	}
	gauge(mGroups, float64(len(groups)))
	gauge(mProcesses, float64(local), "local")
	gauge(mProcesses, float64(remote), "remote")
	gauge(mHeld, float64(s.core.Held()))
	st := s.core.Stats()
	for reason, v := range map[string]uint64{"malformed": st.Malformed, "unknown_sender": st.UnknownSender,
		"bad_fragments": st.BadFragments, "out_of_round": st.OutOfRound} {
		counter(mRejected, v, reason)
	}
}
