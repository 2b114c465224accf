package pg

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestPacketSize(t *testing.T) {
	for _, tc := range []struct{ mtu, want int }{
		{1500, 1402}, // 1410 after the 3.x adjust, minus the 8-byte header
		{9000, 8902},
		{65536, 65438},
	} {
		if got := PacketSize(tc.mtu); got != tc.want {
			t.Errorf("PacketSize(%d) = %d, want %d", tc.mtu, got, tc.want)
		}
	}
}

func TestNewPackerRejects(t *testing.T) {
	q := &fifo{cap: 10}
	for _, cfg := range []Config{
		{NetMTU: 100, Mcast: q.mcast, Avail: q.avail},
		{NetMTU: 70000, Mcast: q.mcast, Avail: q.avail},
		{NetMTU: 1500, Avail: q.avail},
		{NetMTU: 1500, Mcast: q.mcast},
	} {
		if _, err := NewPacker(cfg); err == nil {
			t.Errorf("NewPacker(mtu %d) accepted a bad config", cfg.NetMTU)
		}
	}
}

// body returns n bytes of a recognisable pattern.
func body(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// TestPackerShapes checks frame boundaries against corosync's packing rules,
// including the captured examples of spec/totem.md §8. Sizes are whole
// message sizes (group header "a" = 5 bytes included).
func TestPackerShapes(t *testing.T) {
	cases := []struct {
		name  string
		sizes []int // messages sent, in order, before one Flush
		want  []frameShape
	}{
		{
			name:  "captured 1573-byte message",
			sizes: []int{1573},
			want:  []frameShape{{1, 0, []int{1400}}, {0, 1, []int{173}}},
		},
		{
			name:  "captured packing",
			sizes: []int{37, 37, 40},
			want:  []frameShape{{0, 0, []int{37, 37, 40}}},
		},
		{
			name:  "largest message that stays staged",
			sizes: []int{1397},
			want:  []frameShape{{0, 0, []int{1397}}},
		},
		{
			name:  "just fits: sent at once, not fragmented",
			sizes: []int{1398, 10},
			want:  []frameShape{{0, 0, []int{1398}}, {0, 0, []int{10}}},
		},
		{
			name:  "full packet",
			sizes: []int{1400},
			want:  []frameShape{{0, 0, []int{1400}}},
		},
		{
			name:  "one byte over: tail goes out at once",
			sizes: []int{1401},
			want:  []frameShape{{1, 0, []int{1400}}, {0, 1, []int{1}}},
		},
		{
			name:  "fragment after staged messages shares the frame",
			sizes: []int{100, 2000},
			// 1402 − 2×2 = 1398 room; 100 staged, 1298 of the big one fit.
			want: []frameShape{{1, 0, []int{100, 1298}}, {0, 1, []int{702}}},
		},
		{
			name:  "three-frame message",
			sizes: []int{3000},
			want:  []frameShape{{1, 0, []int{1400}}, {2, 1, []int{1400}}, {0, 2, []int{200}}},
		},
		{
			// corosync compares the whole body's length, not what is left
			// of it: the 1-byte tail of a 1396-byte body is staged.
			name:  "short tail of a body under a packet is staged",
			sizes: []int{1401, 1401},
			want:  []frameShape{{1, 0, []int{1400}}, {1, 1, []int{1, 1397}}, {0, 1, []int{4}}},
		},
		{
			// ...while the tail of a body of a packet or more goes out at
			// once; the next header is staged, which restarts numbering.
			name:  "big messages back to back",
			sizes: []int{2005, 2005},
			want: []frameShape{
				{1, 0, []int{1400}}, {0, 1, []int{605}},
				{1, 0, []int{1400}}, {0, 1, []int{605}},
			},
		},
		{
			name:  "header split across frames",
			sizes: []int{1395, 100},
			want:  []frameShape{{1, 0, []int{1395, 3}}, {0, 1, []int{97}}},
		},
		{
			name:  "numbering restarts after a staged message",
			sizes: []int{2005, 15, 2005},
			want: []frameShape{
				{1, 0, []int{1400}}, {0, 1, []int{605}},
				{1, 0, []int{15, 1383}}, {0, 1, []int{622}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := &fifo{cap: 100}
			p := newTestPacker(t, 1500, q)
			for i, n := range tc.sizes {
				if err := p.Send([]string{GroupServices}, body(n-5, byte(i))); err != nil {
					t.Fatal(err)
				}
			}
			p.Flush()
			got := shapes(t, q.frames)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("frames\n got %v\nwant %v", got, tc.want)
			}
			for i, f := range q.frames {
				if len(f) > PacketSize(1500)+FrameHeaderSize {
					t.Errorf("frame %d is %d bytes, over the %d limit", i, len(f), PacketSize(1500)+FrameHeaderSize)
				}
			}
		})
	}
}

func TestCapturedFrameBytes(t *testing.T) {
	q := &fifo{cap: 10}
	p := newTestPacker(t, 1500, q)
	msg := body(1568, 3)
	if err := p.Send([]string{GroupServices}, msg); err != nil {
		t.Fatal(err)
	}
	if len(q.frames) != 2 || len(q.frames[0]) != 1410 {
		t.Fatalf("got %d frames, first %d bytes; want 2, 1410 (net_mtu after adjust)", len(q.frames), len(q.frames[0]))
	}
	head := []byte{0, 0, 0, 0, 1, 0, 1, 0, 0x78, 0x05, 1, 0, 1, 0, 'a'}
	if !bytes.Equal(q.frames[0][:len(head)], head) {
		t.Errorf("frame 1 head % x, want % x", q.frames[0][:len(head)], head)
	}
	want2 := append([]byte{0, 0, 0, 0, 0, 1, 1, 0, 173, 0}, msg[1395:]...)
	if !bytes.Equal(q.frames[1], want2) {
		t.Errorf("frame 2 differs: head % x", q.frames[1][:10])
	}
}

func TestFragmentNumbersWrap(t *testing.T) {
	q := &fifo{cap: 1000}
	p := newTestPacker(t, 1500, q)
	if err := p.Send([]string{GroupServices}, body(300*1400-5, 1)); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	got := shapes(t, q.frames)
	if len(got) != 300 {
		t.Fatalf("%d frames, want 300", len(got))
	}
	prev := uint8(0)
	for i, s := range got {
		want := uint8(i%255 + 1)
		if i == 299 {
			want = 0
		}
		if s.Frag != want || s.Cont != prev {
			t.Fatalf("frame %d: frag %d cont %d, want frag %d cont %d", i, s.Frag, s.Cont, want, prev)
		}
		prev = s.Frag
	}
}

func TestSendRefusedWhenQueueShort(t *testing.T) {
	q := &fifo{cap: 2}
	p := newTestPacker(t, 1500, q)
	if err := p.Send([]string{GroupServices}, body(95, 0)); err != nil { // staged
		t.Fatal(err)
	}
	err := p.Send([]string{GroupServices}, body(3000, 1)) // needs 3 frames now
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("err = %v, want ErrQueueFull", err)
	}
	if len(q.frames) != 0 || p.Stats().Refused != 1 {
		t.Fatalf("refused send queued %d frames, stats %+v", len(q.frames), p.Stats())
	}
	// Nothing changed: with room, the same sends give what a fresh packer
	// gives.
	q.cap = 100
	if err := p.Send([]string{GroupServices}, body(3000, 1)); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	q2 := &fifo{cap: 100}
	p2 := newTestPacker(t, 1500, q2)
	_ = p2.Send([]string{GroupServices}, body(95, 0))
	_ = p2.Send([]string{GroupServices}, body(3000, 1))
	p2.Flush()
	if !reflect.DeepEqual(q.frames, q2.frames) {
		t.Fatal("a refused send changed the packer's state")
	}
}

func TestSendTooLarge(t *testing.T) {
	q := &fifo{cap: 5000}
	p := newTestPacker(t, 1500, q)
	if err := p.Send([]string{GroupServices}, body(MaxSendSize, 0)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if err := p.Send([]string{GroupServices}, body(1<<20, 0)); err != nil {
		t.Fatalf("1 MiB body refused: %v", err)
	}
	if err := p.Send(nil, body(10, 0)); err == nil {
		t.Fatal("message without groups accepted")
	}
	if err := p.SendRaw(); err == nil {
		t.Fatal("empty raw message accepted")
	}
}

// TestMcastRefusesMidMessage: srp refuses frames although Avail said there
// was room. The frames wait, in order, and new messages are refused until
// they are out.
func TestMcastRefusesMidMessage(t *testing.T) {
	q := &fifo{cap: 100}
	limit := 1 // srp takes only this many frames, whatever Avail says
	mcast := func(f []byte) error {
		if len(q.frames) >= limit {
			return errFull
		}
		return q.mcast(f)
	}
	p, err := NewPacker(Config{NetMTU: 1500, Mcast: mcast, Avail: q.avail})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Send([]string{GroupServices}, body(5000, 1)); err != nil {
		t.Fatal(err)
	}
	if len(q.frames) != 1 || p.Stats().Pending != 3 {
		t.Fatalf("queued %d, pending %d; want 1, 3", len(q.frames), p.Stats().Pending)
	}
	err = p.Send([]string{GroupServices}, body(10, 2))
	if !errors.Is(err, ErrQueueFull) || !errors.Is(err, errFull) {
		t.Fatalf("send with pending frames: err = %v, want ErrQueueFull wrapping the mcast error", err)
	}
	p.Flush() // still refused: nothing moves, nothing is lost
	if p.Stats().Pending != 3 {
		t.Fatalf("pending %d after a refused flush", p.Stats().Pending)
	}
	limit = 100
	p.Flush()
	if err := p.Send([]string{GroupServices}, body(10, 2)); err != nil {
		t.Fatal(err)
	}
	p.Flush()

	var got [][]byte
	r := NewReceiver(func(_ uint32, m []byte, _ bool) error {
		got = append(got, append([]byte(nil), m...))
		return nil
	})
	for _, f := range q.frames {
		if err := r.Receive(1, f, false); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 || !bytes.Equal(got[0][5:], body(5000, 1)) || !bytes.Equal(got[1][5:], body(10, 2)) {
		t.Fatalf("delivered %d messages, want both whole and in order", len(got))
	}
}

func TestFlushWaitsForRoom(t *testing.T) {
	q := &fifo{cap: 1}
	p := newTestPacker(t, 1500, q)
	_ = p.Send([]string{GroupServices}, body(1395, 0)) // one full frame at once
	_ = p.Send([]string{GroupServices}, body(10, 1))   // staged
	if len(q.frames) != 1 {
		t.Fatalf("%d frames queued, want 1", len(q.frames))
	}
	p.Flush()
	if p.Stats().FlushDeferred != 1 || len(q.frames) != 1 {
		t.Fatalf("flush into a full queue: stats %+v", p.Stats())
	}
	q.take(1)
	p.Flush()
	if got := shapes(t, q.frames); !reflect.DeepEqual(got, []frameShape{{0, 0, []int{15}}}) {
		t.Fatalf("deferred flush sent %v", got)
	}
	p.Flush() // nothing staged: no empty frame
	if len(q.frames) != 1 {
		t.Fatal("flush of an empty buffer sent a frame")
	}
}
