package transport

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
)

func TestGsoGroup(t *testing.T) {
	a, b := &net.UDPConn{}, &net.UDPConn{}
	p1, p2 := netip.MustParseAddrPort("10.0.0.1:5405"), netip.MustParseAddrPort("10.0.0.2:5405")
	d := func(c *net.UDPConn, dst netip.AddrPort, n int) dgram {
		return dgram{conn: c, dst: dst, data: make([]byte, n)}
	}
	many := func(n, size int) []dgram {
		ds := make([]dgram, n)
		for i := range ds {
			ds[i] = d(a, p1, size)
		}
		return ds
	}
	for _, c := range []struct {
		name string
		ds   []dgram
		want int
	}{
		{"alone", []dgram{d(a, p1, 100)}, 1},
		{"same size", []dgram{d(a, p1, 100), d(a, p1, 100), d(a, p1, 100)}, 3},
		{"shorter last ends the group", []dgram{d(a, p1, 100), d(a, p1, 60), d(a, p1, 100)}, 2},
		{"longer one starts a new group", []dgram{d(a, p1, 100), d(a, p1, 101)}, 1},
		{"other destination", []dgram{d(a, p1, 100), d(a, p2, 100)}, 1},
		{"other socket", []dgram{d(a, p1, 100), d(b, p1, 100)}, 1},
		{"empty head", []dgram{d(a, p1, 0), d(a, p1, 0)}, 1},
		{"empty follower", []dgram{d(a, p1, 10), d(a, p1, 0)}, 1},
		{"segment bound", many(100, 100), gsoMaxSegs},
		{"byte bound", many(60, 1400), gsoMaxBytes / 1400},
	} {
		if got := gsoGroup(c.ds); got != c.want {
			t.Errorf("%s: group of %d, want %d", c.name, got, c.want)
		}
	}
}

// TestSendBatchSegmented: a token visit's worth of full frames, short
// ones and a token reach every member as the same datagrams in the same
// order when the kernel segments them (loopback takes UDP_SEGMENT) and
// the receivers read them coalesced (UDP_GRO), with the datagram counters
// as before; and the same with segmenting off.
func TestSendBatchSegmented(t *testing.T) {
	for _, c := range []struct {
		off   bool
		codec FrameCodec
	}{{false, nil}, {true, nil}, {false, prefixCodec{key: 0x5a}}} {
		off := c.off
		// With a codec the datagrams are sealed into the batch's arena,
		// which grows many times over this batch.
		t.Run(fmt.Sprintf("NoGSO=%v,codec=%v", off, c.codec != nil), func(t *testing.T) {
			ts := openN(t, 3, c.codec)
			ts[0].bw.noGSO = off
			var outs []Out
			n := 0
			frame := func(size int) {
				f := bytes.Repeat([]byte{byte(n)}, size)
				copy(f, fmt.Sprintf("f%d.", n))
				outs = append(outs, Out{Frame: f})
				n++
			}
			for _, run := range []struct{ count, size int }{{50, 1200}, {1, 700}, {30, 1200}, {1, 1300}, {70, 1300}, {1, 20}} {
				for range run.count {
					frame(run.size)
				}
			}
			outs = append(outs, Out{To: 2, Frame: []byte("token")})
			if err := ts[0].SendBatch(outs); err != nil {
				t.Fatal(err)
			}
			if ts[0].bw.noGSO != off {
				t.Fatalf("segmenting turned off by a refusal on loopback")
			}
			for i, tr := range ts {
				for _, o := range outs {
					if o.To != 0 && o.To != uint32(i+1) {
						continue
					}
					p, ok := recv(t, tr)
					if !ok || !bytes.Equal(p.Frame, o.Frame) {
						t.Fatalf("node %d: got %d bytes %.8q ok=%v, want %d bytes %.8q", i+1, len(p.Frame), p.Frame, ok, len(o.Frame), o.Frame)
					}
				}
				noMore(t, tr)
			}
			if got, want := ts[0].Stats().Sent, uint64(3*n+1); got != want {
				t.Fatalf("sent counter %d, want %d", got, want)
			}
			// Every receiver reads with UDP_GRO: a segmented send arrives
			// as coalesced reads, a datagram-by-datagram one does not.
			for i, tr := range ts {
				if c := tr.Stats().Coalesced; (c > 0) == off {
					t.Fatalf("node %d: %d datagrams came coalesced with segmenting off=%v", i+1, c, off)
				}
			}
		})
	}
}
