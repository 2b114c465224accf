package qbipc

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkRoundTrip measures request/response round trips (Go client ↔
// Go server, echo service) per transport and payload size; ns/op is one
// round trip, so round trips per second = 1e9 / ns/op.
func BenchmarkRoundTrip(b *testing.B) {
	for _, tr := range transports {
		for _, size := range []int{64, 4096, 65536} {
			b.Run(fmt.Sprintf("%v/%dB", tr, size), func(b *testing.B) {
				ts := startServer(b, tr, newEchoHandler(), nil)
				c := dial(b, ts.service)
				req := echoReq(make([]byte, size))
				ctx := context.Background()
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := c.Request(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
			})
		}
	}
}

// BenchmarkEvents measures event throughput (server SendEvent → client
// ReadEvent) per transport.
func BenchmarkEvents(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr.String(), func(b *testing.B) {
			ts := startServer(b, tr, newEchoHandler(), nil)
			c := dial(b, ts.service)
			ctx := context.Background()
			b.ResetTimer()
			const batch = 100
			for n := 0; n < b.N; n += batch {
				if _, err := c.Request(ctx, eventsReq(batch, 64)); err != nil {
					b.Fatal(err)
				}
				for i := 0; i < batch; i++ {
					if _, err := c.ReadEvent(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
