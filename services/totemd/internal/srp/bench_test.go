package srp

import (
	"testing"
	"time"
)

// BenchmarkRing5Nodes1KiB pushes 1 KiB messages from all five nodes of a
// loss-free ring; one op is one message delivered (at every node).
func BenchmarkRing5Nodes1KiB(b *testing.B) {
	h := newHarness(b, 5)
	h.noLog = true
	h.startAll()
	if !h.runUntil(10*time.Second, func() bool { return h.operational(1, 2, 3, 4, 5) }) {
		b.Fatal("ring did not form")
	}
	payload := make([]byte, 1024)
	first := h.node(1)
	topUp := func() {
		for _, hn := range h.nodes {
			for hn.n.appQueue().len() < 64 {
				if err := hn.n.Mcast(h.now, payload); err != nil {
					b.Fatal(err)
				}
			}
			h.drain(hn)
		}
	}
	topUp()
	start := first.msgCount
	b.ReportAllocs()
	b.ResetTimer()
	t0 := time.Now()
	for first.msgCount-start < b.N {
		topUp()
		for i := 0; i < 64; i++ {
			if !h.step(h.now + time.Hour) {
				b.Fatal("ring went idle")
			}
		}
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(first.msgCount-start)/elapsed.Seconds(), "msgs/s")
	for _, hn := range h.nodes {
		if st := hn.n.Status(); st.State != Operational {
			b.Fatalf("node %d left OPERATIONAL (%d)", hn.id, st.State)
		}
	}
}
