package qbipc

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSendEvent measures the server's event path as a service uses
// it: one goroutine calls Conn.SendEvent back to back (as cpgd's owner
// goroutine does), at most 64 events ahead of a real client reading every
// event. ns/op is the time per event until the client has read them all;
// allocs are the server's and the client's.
func BenchmarkSendEvent(b *testing.B) {
	for _, tr := range transports {
		for _, size := range []int{64, 1024, 16384, 65536} {
			b.Run(fmt.Sprintf("%v/%dB", tr, size), func(b *testing.B) {
				conn, cl := benchEventConn(b, tr)
				ctx := context.Background()
				got := make(chan error, 1)
				window := make(chan struct{}, 64)
				n := b.N
				go func() {
					for i := 0; i < n; i++ {
						if _, err := cl.ReadEvent(ctx); err != nil {
							got <- err
							return
						}
						<-window
					}
					got <- nil
				}()
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < n; i++ {
					window <- struct{}{}
					if err := conn.SendEvent(NewResponse(eventID, 1, size)); err != nil {
						b.Fatal(err)
					}
				}
				if err := <-got; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkEventLatency measures one event at a time: SendEvent, then
// wait until the client has read it (ns/op is that round).
func BenchmarkEventLatency(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr.String(), func(b *testing.B) {
			conn, cl := benchEventConn(b, tr)
			ctx := context.Background()
			ack := make(chan error)
			n := b.N
			go func() {
				for i := 0; i < n; i++ {
					_, err := cl.ReadEvent(ctx)
					ack <- err
					if err != nil {
						return
					}
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < n; i++ {
				if err := conn.SendEvent(NewResponse(eventID, 1, 1024)); err != nil {
					b.Fatal(err)
				}
				if err := <-ack; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchEventConn starts an echo server and one client, and returns the
// server's end of the connection with the client.
func benchEventConn(b *testing.B, tr Transport) (*Conn, *Client) {
	h := newEchoHandler()
	ts := startServer(b, tr, h, nil)
	cl := dial(b, ts.service)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		return c, cl
	}
	b.Fatal("no server connection")
	return nil, nil
}
