package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric descriptions (cmapd's own; the skeleton adds needle_cmapd_*
// client and event-queue series).
var (
	mKeys  = prometheus.NewDesc("needle_cmapd_keys", "Keys in a map, by map.", []string{"map"}, nil)
	mTrack = prometheus.NewDesc("needle_cmapd_tracks", "Trackers registered (clients' and the daemons' own).", nil, nil)
	mIters = prometheus.NewDesc("needle_cmapd_iterators", "Open iterators.", nil, nil)
)

// CollectMetrics reports the map's size (svchost.MetricsSource).
func (s *service) CollectMetrics(add func(prometheus.Metric)) {
	c := s.st.Counts()
	add(prometheus.MustNewConstMetric(mKeys, prometheus.GaugeValue, float64(c.Keys), "icmap"))
	add(prometheus.MustNewConstMetric(mKeys, prometheus.GaugeValue, float64(c.StatsKeys), "stats"))
	add(prometheus.MustNewConstMetric(mTrack, prometheus.GaugeValue, float64(c.Tracks)))
	add(prometheus.MustNewConstMetric(mIters, prometheus.GaugeValue, float64(c.Iterators)))
}
