package pg

import (
	"bytes"
	"testing"
)

// FuzzReceive feeds a Receiver a script of operations decoded from the
// input: frames from a few nodes in either byte order, configuration
// changes and trans-ack switches. It must never panic, and never deliver or
// hold more than MaxAssembleSize bytes.
func FuzzReceive(f *testing.F) {
	add := func(ops ...[]byte) { f.Add(bytes.Join(ops, nil)) }
	op := func(code, from byte, frame []byte) []byte {
		return append([]byte{code, from, byte(len(frame)), byte(len(frame) >> 8)}, frame...)
	}
	add(op(0, 1, mkFrame(le, 0, 0, "\x01\x00\x01\x00abody")))
	add(op(0, 1, mkFrame(le, 1, 0, "ab")), op(0, 1, mkFrame(le, 0, 1, "cd", "e")))
	add(op(1, 2, mkFrame(be, 1, 0, "x", "y")), op(2, 2, nil), op(1, 2, mkFrame(be, 0, 1, "z")))
	add(op(0, 3, mkFrame(le, 2, 7, "q")), op(3, 0, nil), op(0, 3, mkFrame(le, 0, 2, "r", "s")))
	add(op(0, 1, []byte{0, 0, 0, 0, 1, 1, 0xff, 0xff}))
	f.Fuzz(func(t *testing.T, script []byte) {
		r := NewReceiver(func(from uint32, msg []byte, swapped bool) error {
			if len(msg) > MaxAssembleSize {
				t.Fatalf("delivered %d bytes from node %d", len(msg), from)
			}
			return nil
		})
		for len(script) >= 4 {
			code, from, n := script[0]%4, uint32(script[1]%4), int(script[2])|int(script[3])<<8
			script = script[4:]
			n = min(n, len(script))
			frame := script[:n]
			script = script[n:]
			switch code {
			case 0, 1:
				err := r.Receive(from, frame, code == 1)
				if _, perr := ParseFrame(frame, code == 1); perr != nil && err == nil {
					t.Fatalf("malformed frame accepted: %v", perr)
				}
			case 2:
				r.ConfChange([]uint32{from})
				if r.Pending(from) != 0 {
					t.Fatal("left node still has a buffer")
				}
			case 3:
				r.SetWaitingTransAck(from%2 == 1)
			}
			if p := r.Pending(from); p > MaxAssembleSize {
				t.Fatalf("node %d holds %d bytes", from, p)
			}
		}
	})
}

// FuzzPackRoundTrip packs messages whose sizes come from the input and
// checks they come out of a Receiver whole and in order.
func FuzzPackRoundTrip(f *testing.F) {
	f.Add([]byte{10, 20, 30}, uint16(1500))
	f.Add([]byte{255, 255, 0, 1, 200}, uint16(200))
	f.Add([]byte{90, 90, 90, 90, 90, 90, 90, 90}, uint16(170))
	f.Fuzz(func(t *testing.T, sizes []byte, mtu uint16) {
		q := &fifo{cap: 1 << 20}
		p, err := NewPacker(Config{NetMTU: int(mtu), Mcast: q.mcast, Avail: q.avail})
		if err != nil {
			return
		}
		var want [][]byte
		for i, s := range sizes {
			msg := payload(uint32(i), i, int(s)*int(s)/8)
			if err := p.Send([]string{GroupServices}, msg); err != nil {
				t.Fatal(err)
			}
			want = append(want, msg)
			if s%5 == 0 {
				p.Flush()
			}
		}
		p.Flush()
		var got [][]byte
		var g Groups
		_ = g.Join(func(_ uint32, body []byte, _ bool) { got = append(got, bytes.Clone(body)) }, GroupServices)
		r := NewReceiver(g.Deliver)
		for _, fr := range q.frames {
			if len(fr) > p.PacketSize()+FrameHeaderSize {
				t.Fatalf("frame of %d bytes, packet size %d", len(fr), p.PacketSize())
			}
			if err := r.Receive(7, fr, false); err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("got %d messages, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("message %d differs", i)
			}
		}
	})
}

// FuzzGroupHeader decodes arbitrary bytes as a group header in both byte
// orders; whatever decodes and is encodable must re-encode to the same bytes.
func FuzzGroupHeader(f *testing.F) {
	f.Add([]byte{1, 0, 1, 0, 'a', 'x'})
	f.Add([]byte{1, 0, 4, 0, 's', 'y', 'n', 'c'})
	f.Add([]byte{0, 2, 0, 1, 0, 2, 'a', 'b', 'c'})
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, swapped := range []bool{false, true} {
			names, body, err := DecodeGroupHeader(msg, swapped)
			if err != nil {
				continue
			}
			var g Groups
			if err := g.Deliver(1, msg, swapped); err != nil {
				t.Fatalf("Deliver rejects what Decode accepts: %v", err)
			}
			if swapped {
				continue
			}
			enc, err := AppendGroupHeader(nil, names...)
			if err != nil {
				continue
			}
			if !bytes.Equal(append(enc, body...), msg) {
				t.Fatalf("re-encoded % x, input % x", enc, msg)
			}
		}
	})
}

// FuzzExecHeader decodes arbitrary bytes as a service message header.
func FuzzExecHeader(f *testing.F) {
	f.Add(AppendExecHeader(nil, ExecHeader{Service: 2, Fn: 1, Size: 16}), false)
	f.Add([]byte{1, 2, 3}, true)
	f.Fuzz(func(t *testing.T, msg []byte, swapped bool) {
		h, err := DecodeExecHeader(msg, swapped)
		if err != nil || swapped {
			return
		}
		enc := AppendExecHeader(nil, h)
		if !bytes.Equal(enc[0:4], msg[0:4]) || !bytes.Equal(enc[8:12], msg[8:12]) {
			t.Fatalf("re-encoded % x, input % x", enc, msg[:16])
		}
	})
}
