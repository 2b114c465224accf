package main

import (
	"testing"
	"time"
)

func msg(kind uint32, seq, end uint64) []byte {
	b := make([]byte, 64)
	loadMsg{kind: kind, seq: seq, sent: time.Unix(100, 0).UnixNano(), end: end}.put(b)
	return b
}

func TestChecker(t *testing.T) {
	a, b := senderID{1, 10}, senderID{2, 20}
	now := time.Unix(100, 5000)
	run := func(events func(c *checker)) *checker {
		c := newChecker()
		c.expect(a)
		c.expect(b)
		events(c)
		return c
	}
	clean := run(func(c *checker) {
		for i := uint64(0); i < 3; i++ {
			c.deliver(a, msg(kindData, i, 0), now)
			c.deliver(b, msg(kindData, i, 0), now)
		}
		if c.done() {
			t.Fatal("done before END")
		}
		c.deliver(a, msg(kindEnd, 0, 3), now)
		c.deliver(b, msg(kindEnd, 0, 3), now)
	})
	if !clean.done() || clean.lost() != 0 || clean.dups != 0 || clean.fifo != 0 || clean.received != 6 {
		t.Fatalf("clean run: done %v lost %d dups %d fifo %d received %d", clean.done(), clean.lost(), clean.dups, clean.fifo, clean.received)
	}
	if p50, p99, mx := clean.percentiles(); p50 != 5*time.Microsecond || p99 != p50 || mx != p50 {
		t.Fatalf("latency %v %v %v", p50, p99, mx)
	}
	// Another node delivering the same messages in another order gets
	// another hash; the same order gives the same hash.
	swapped := run(func(c *checker) {
		for i := uint64(0); i < 3; i++ {
			c.deliver(b, msg(kindData, i, 0), now)
			c.deliver(a, msg(kindData, i, 0), now)
		}
	})
	same := run(func(c *checker) {
		for i := uint64(0); i < 3; i++ {
			c.deliver(a, msg(kindData, i, 0), now)
			c.deliver(b, msg(kindData, i, 0), now)
		}
	})
	if swapped.orderHash() == clean.orderHash() || same.orderHash() != clean.orderHash() {
		t.Fatal("order hash does not follow the delivery order")
	}
	faulty := run(func(c *checker) {
		c.deliver(a, msg(kindData, 0, 0), now)
		c.deliver(a, msg(kindData, 2, 0), now) // 1 missing
		c.deliver(a, msg(kindData, 2, 0), now) // duplicate
		c.deliver(a, msg(kindData, 1, 0), now) // late: FIFO broken
		c.deliver(a, msg(kindData, 1<<20, 0), now)
		c.deliver(a, msg(kindEnd, 0, 5+1<<20), now) // 4 never came
		c.deliver(b, []byte("junk"), now)
		c.left(b)
	})
	if !faulty.done() || faulty.dups != 1 || faulty.fifo != 1 || faulty.lost() != 5+1<<20-4 || faulty.badPayload != 1 {
		t.Fatalf("faulty run: done %v dups %d fifo %d lost %d bad %d", faulty.done(), faulty.dups, faulty.fifo, faulty.lost(), faulty.badPayload)
	}
	if d := clean.lostDetail(); d != nil {
		t.Fatalf("clean run's lost detail %q", d)
	}
	// a departed sender: the holes below its highest seq
	holes := run(func(c *checker) {
		for _, i := range []uint64{0, 1, 4, 5, 7} {
			c.deliver(a, msg(kindData, i, 0), now)
		}
		c.left(a)
	})
	if d := holes.lostDetail(); len(d) != 1 || d[0] != "node 1 pid 10: 3 of 8 missing (seqs 2-3,6; highest seen 7, departed true)" {
		t.Fatalf("lost detail %q", d)
	}
}
