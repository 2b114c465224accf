package pg

import (
	"encoding/binary"
	"errors"
	"testing"
)

// errFull stands in for srp.ErrQueueFull in tests.
var errFull = errors.New("test queue full")

// fifo is a bounded frame queue with srp's Mcast/Avail contract: Mcast
// fails when full, Avail is the free slots. Tests drain it to play the
// ring's agreed order.
type fifo struct {
	frames [][]byte
	cap    int
}

func (q *fifo) mcast(f []byte) error {
	if len(q.frames) >= q.cap {
		return errFull
	}
	q.frames = append(q.frames, f)
	return nil
}

func (q *fifo) avail() int { return q.cap - len(q.frames) }

// take removes and returns up to n frames.
func (q *fifo) take(n int) [][]byte {
	n = min(n, len(q.frames))
	out := q.frames[:n:n]
	q.frames = q.frames[n:]
	return out
}

func newTestPacker(t testing.TB, mtu int, q *fifo) *Packer {
	t.Helper()
	p, err := NewPacker(Config{NetMTU: mtu, Mcast: q.mcast, Avail: q.avail})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mkFrame builds a frame in byte order bo from literal pieces.
func mkFrame(bo binary.AppendByteOrder, frag, cont uint8, pieces ...string) []byte {
	b := make([]byte, FrameHeaderSize)
	b[4], b[5] = frag, cont
	b = bo.AppendUint16(b[:6], uint16(len(pieces)))
	for _, p := range pieces {
		b = bo.AppendUint16(b, uint16(len(p)))
	}
	for _, p := range pieces {
		b = append(b, p...)
	}
	return b
}

// swapFrame rewrites one of our frames in the other byte order: msg_count
// and the lengths are reversed, the data stays as it is.
func swapFrame(f []byte) []byte {
	out := append([]byte(nil), f...)
	n := int(le.Uint16(out[6:]))
	binary.BigEndian.PutUint16(out[6:], uint16(n))
	for i := 0; i < n; i++ {
		off := FrameHeaderSize + 2*i
		binary.BigEndian.PutUint16(out[off:], le.Uint16(f[off:]))
	}
	return out
}

// frameShape is what a test asserts about one frame.
type frameShape struct {
	Frag, Cont uint8
	Lens       []int
}

func shapes(t testing.TB, frames [][]byte) []frameShape {
	t.Helper()
	out := make([]frameShape, 0, len(frames))
	for i, b := range frames {
		f, err := ParseFrame(b, false)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		out = append(out, frameShape{f.Fragmented, f.Continuation, f.Lens()})
	}
	return out
}
