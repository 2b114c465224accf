package daemon

import (
	"fmt"
	"testing"

	"github.com/needle-cluster/needle/services/cpgd/internal/cpg"
)

// BenchmarkEncodeDeliver is the encoding half of cpgd's per-delivery
// work: one DELIVER_CALLBACK per op into the service's reused buffer.
func BenchmarkEncodeDeliver(b *testing.B) {
	for _, size := range []int{64, 1024, 16384, 65536} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			var e cpg.Event = cpg.DeliverEvent{Conn: 1, Group: "bench", NodeID: 1, PID: 42, Data: make([]byte, size)}
			var buf []byte
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf = encodeEventInto(buf, e)
			}
		})
	}
}
