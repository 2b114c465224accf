package pg

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
)

// TestReceiverDiscardPartial: at a Regular change every sender's partial
// message goes, in both sets, so a continuation in the new ring is dropped
// by a member that held the head exactly as by one that did not.
func TestReceiverDiscardPartial(t *testing.T) {
	var rec recorder
	r := NewReceiver(rec.deliver)
	mustRx(t, r, 2, mkFrame(le, 1, 0, "whole-2", "head-2"))
	mustRx(t, r, 3, mkFrame(le, 4, 0, "head-3"))
	r.SetWaitingTransAck(true)
	mustRx(t, r, 2, mkFrame(le, 1, 0, "trans-2"))
	r.SetWaitingTransAck(false)
	if buf, frag := r.Partial(3); string(buf) != "head-3" || frag != 4 {
		t.Fatalf("Partial(3) = %q, %d", buf, frag)
	}
	r.DiscardPartial()
	if r.Stats().Dropped != 3 || r.Pending(2) != 0 || r.Pending(3) != 0 {
		t.Fatalf("after DiscardPartial: stats %+v", r.Stats())
	}
	if _, frag := r.Partial(2); frag != 0 {
		t.Fatalf("Partial(2) after the discard: frag %d", frag)
	}
	// The old rings' continuations: dropped, and what follows them comes.
	mustRx(t, r, 2, mkFrame(le, 0, 1, "tail-2", "next-2"))
	mustRx(t, r, 3, mkFrame(le, 0, 4, "tail-3"))
	mustRx(t, r, 3, mkFrame(le, 0, 0, "fresh-3"))
	r.SetWaitingTransAck(true)
	mustRx(t, r, 2, mkFrame(le, 0, 1, "tail-trans-2"))
	want := []string{"2:whole-2", "2:next-2", "3:fresh-3"}
	if !reflect.DeepEqual(rec.got, want) {
		t.Fatalf("delivered %q, want %q", rec.got, want)
	}
}

// straddle builds a sender whose stream is: A (small, staged with the
// head of X), X (straddling: its first frames are sequenced in the old
// ring), Y (whole, behind it), Z (its first frame built, its rest in the
// staging buffer). It returns the packer, its srp queue with what was not
// sequenced, the sender's own receiver fed the sequenced frames, and the
// bodies in order.
func straddle(t *testing.T, mcast func(q *fifo, f []byte) error) (*Packer, *fifo, *Receiver, *[][]byte, [][]byte) {
	t.Helper()
	q := &fifo{cap: 100}
	p, err := NewPacker(Config{NetMTU: 1500, Mcast: func(f []byte) error { return mcast(q, f) }, Avail: q.avail})
	if err != nil {
		t.Fatal(err)
	}
	bodies := [][]byte{body(40, 1), body(9000, 2), body(300, 3), body(3000, 4)}
	for i, b := range bodies {
		// Z in two pieces: the rest of a message's last piece is sent at
		// once, only a later piece is staged behind a fragment.
		iov := [][]byte{b}
		if i == 3 {
			iov = [][]byte{b[:len(b)-20], b[len(b)-20:]}
		}
		if err := p.Send([]string{GroupServices}, iov...); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	var got [][]byte
	self := NewReceiver(func(_ uint32, m []byte, _ bool) error {
		got = append(got, bytes.Clone(m[5:]))
		return nil
	})
	for _, f := range q.take(3) { // the old ring sequenced three frames
		if err := self.Receive(1, f, false); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || !bytes.Equal(got[0], bodies[0]) {
		t.Fatalf("old ring delivered %d messages, want A", len(got))
	}
	return p, q, self, &got, bodies
}

// TestRepackRoundTrip: the frames taken back from srp, the pending ones
// and the staging buffer are packed again behind the straddling message's
// head; a member that held the head (and discarded it) and one that never
// saw it deliver X, Y and Z whole, once, in order. srp takes only part of
// the re-packed frames at once: the rest waits in the pending list.
func TestRepackRoundTrip(t *testing.T) {
	limit := 100
	mcast := func(q *fifo, f []byte) error {
		if len(q.frames) >= limit {
			return errFull
		}
		return q.mcast(f)
	}
	limit = 7 // srp is short of room: a frame of Z is pending
	p, q, self, got, bodies := straddle(t, mcast)
	if p.Stats().Pending == 0 {
		t.Fatal("test setup: want pending frames before the re-pack")
	}
	head, frag := self.Partial(1)
	if frag == 0 || len(head) == 0 {
		t.Fatal("test setup: the sender holds no head of X")
	}
	unsent := q.take(len(q.frames))
	if len(unsent) == 0 || p.st.count == 0 || p.st.cont == 0 {
		t.Fatalf("test setup: want X's tail in srp's queue and Z's rest staged behind a fragment (%d unsent, staged %+v)",
			len(unsent), p.st)
	}
	limit = 4 // fewer than the re-packed frames
	if err := p.Repack(head, frag, unsent); err != nil {
		t.Fatal(err)
	}
	self.DiscardPartial()
	if p.Stats().Pending == 0 || p.Stats().Repacks != 1 || p.Stats().Repacked != 3 {
		t.Fatalf("after the re-pack: stats %+v", p.Stats())
	}
	if err := p.Send([]string{GroupServices}, body(10, 9)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("send while re-packed frames wait: %v", err)
	}
	var other [][]byte
	peer := NewReceiver(func(_ uint32, m []byte, _ bool) error {
		other = append(other, bytes.Clone(m[5:]))
		return nil
	})
	// The new ring: X's first frame starts afresh.
	if f, err := ParseFrame(q.frames[0], false); err != nil || f.Continuation != 0 {
		t.Fatalf("first frame in the new ring: %+v, %v", f.FrameHeader, err)
	}
	for range 100 {
		for _, f := range q.take(len(q.frames)) {
			for _, r := range []*Receiver{self, peer} {
				if err := r.Receive(1, f, false); err != nil {
					t.Fatal(err)
				}
			}
		}
		p.Flush()
		if len(q.frames) == 0 && p.Stats().Pending == 0 {
			break
		}
	}
	want := bodies[1:]
	if !slices.EqualFunc((*got)[1:], want, bytes.Equal) || len(*got) != 4 {
		t.Fatalf("the sender delivered %d messages after A, want X, Y, Z", len(*got)-1)
	}
	if !slices.EqualFunc(other, want, bytes.Equal) {
		t.Fatalf("the other member delivered %d messages, want X, Y, Z", len(other))
	}
	if self.Stats().Broken != 0 || peer.Stats().Broken != 0 {
		t.Fatalf("broken messages: %+v, %+v", self.Stats(), peer.Stats())
	}
}

// TestRepackRefusesABrokenChain: frames that do not continue the head are
// put back as they were, srp's first, and nothing else changes.
func TestRepackRefusesABrokenChain(t *testing.T) {
	p, q, self, _, _ := straddle(t, func(q *fifo, f []byte) error { return q.mcast(f) })
	head, frag := self.Partial(1)
	unsent := q.take(len(q.frames))
	before := slices.Clone(unsent)
	if err := p.Repack(head, frag+1, unsent); err == nil {
		t.Fatal("repack of a chain that does not continue the head succeeded")
	}
	if !slices.EqualFunc(q.frames, before, bytes.Equal) || p.Stats().Repacks != 0 {
		t.Fatalf("frames not restored: %d queued, %d before", len(q.frames), len(before))
	}
}
