package pg

import (
	"fmt"
	"testing"
)

// BenchmarkPackUnpack measures Packer → frames → Receiver → Groups for one
// sender at the default MTU, flushing every 16 messages as a token visit
// would. Bytes/s count message bodies.
func BenchmarkPackUnpack(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			var g Groups
			got := 0
			_ = g.Join(func(_ uint32, body []byte, _ bool) { got += len(body) }, GroupServices)
			r := NewReceiver(g.Deliver)
			var rerr error
			mcast := func(f []byte) error {
				if err := r.Receive(1, f, false); err != nil && rerr == nil {
					rerr = err
				}
				return nil
			}
			p, err := NewPacker(Config{Mcast: mcast, Avail: func() int { return queueMax }})
			if err != nil {
				b.Fatal(err)
			}
			msg := payload(1, 0, size)
			groups := []string{GroupServices}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := p.Send(groups, msg); err != nil {
					b.Fatal(err)
				}
				if i%16 == 15 {
					p.Flush()
				}
			}
			p.Flush()
			if rerr != nil {
				b.Fatal(rerr)
			}
			if want := int(p.Stats().Messages) * size; got != want {
				b.Fatalf("received %d body bytes, sent %d", got, want)
			}
		})
	}
}
