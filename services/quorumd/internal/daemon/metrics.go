package daemon

import (
	"github.com/needle-cluster/needle/services/quorumd/wire"
	"github.com/prometheus/client_golang/prometheus"
)

// Metric descriptions (quorumd's own; the skeleton adds needle_quorumd_*
// bus and client series).
var (
	mQuorate = prometheus.NewDesc("needle_quorumd_quorate", "1 while this node is in the primary (quorate) component.", nil, nil)
	mMembers = prometheus.NewDesc("needle_quorumd_members", "Nodes in the quorum view.", nil, nil)
	mVotes   = prometheus.NewDesc("needle_quorumd_votes", "Votequorum's figures for this node and the cluster as it sees it.",
		[]string{"kind"}, nil)
	mQdevice = prometheus.NewDesc("needle_quorumd_qdevice", "Quorum device state of this node (1 = yes), by aspect.",
		[]string{"aspect"}, nil)
)

// CollectMetrics reports quorum state (svchost.MetricsSource).
func (s *service) CollectMetrics(add func(prometheus.Metric)) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		add(prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	quorate := 0.0
	if s.q.Quorate() {
		quorate = 1
	}
	gauge(mQuorate, quorate)
	_, view := s.q.View()
	gauge(mMembers, float64(len(view)))
	if s.vq == nil {
		return
	}
	in, ok := s.vq.info()
	if !ok {
		return
	}
	for kind, v := range map[string]uint32{"node": in.Votes, "expected": in.Expected, "highest_expected": in.HighestExpected,
		"total": in.TotalVotes, "quorum": in.Quorum, "qdevice": in.QdeviceVotes} {
		gauge(mVotes, float64(v), kind)
	}
	for aspect, bit := range map[string]uint32{"registered": wire.InfoQdeviceRegistered, "alive": wire.InfoQdeviceAlive,
		"cast_vote": wire.InfoQdeviceCastVote, "master_wins": wire.InfoQdeviceMasterWins} {
		v := 0.0
		if in.Flags&bit != 0 {
			v = 1
		}
		gauge(mQdevice, v, aspect)
	}
}
