package svchost

import (
	"math/rand/v2"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

func TestMcastQueueRewindsFromTheRefused(t *testing.T) {
	q := newMcastQueue(3)
	var resolved []int
	for i := range 5 {
		q.push([]byte{byte(i)}, func(st cs.Error) {
			if st != cs.OK {
				t.Errorf("item %d: %v", i, st)
			}
			resolved = append(resolved, i)
		})
	}
	var sent []byte
	send := func() {
		for {
			it, ok := q.next()
			if !ok {
				return
			}
			sent = append(sent, it.payload[0])
		}
	}
	ack := func(id uint64, st cs.Error) ackResult {
		t.Helper()
		r, err := q.ack(id, st)
		if err != nil {
			t.Fatal(err)
		}
		if r.resolved != nil {
			r.resolved.done(r.status)
		}
		return r
	}
	send() // 0 1 2
	ack(1, cs.OK)
	send() // 3
	ack(2, cs.ErrTryAgain)
	send() // nothing while stalled
	ack(3, cs.ErrTryAgain)
	if _, err := q.ack(4, cs.OK); err == nil {
		t.Fatal("an accept after a refusal was taken")
	}
	if !ack(4, cs.ErrTryAgain).rewound {
		t.Fatal("no rewind after the last outstanding ack")
	}
	send() // 1 2 3 again, same ids
	for _, id := range []uint64{2, 3, 4} {
		ack(id, cs.OK)
	}
	send() // 4
	ack(5, cs.OK)
	if want := []byte{0, 1, 2, 3, 1, 2, 3, 4}; string(sent) != string(want) {
		t.Fatalf("sent %v, want %v", sent, want)
	}
	if len(resolved) != 5 || q.backlog() != 0 || q.resolved != 5 {
		t.Fatalf("resolved %v, backlog %d", resolved, q.backlog())
	}
	if _, err := q.ack(9, cs.OK); err == nil {
		t.Error("an ack with nothing outstanding was taken")
	}
}

// TestMcastQueueAgainstTotemd drives the queue against a model of
// totemd's side of the contract (refuse at random while the ring queue is
// full, then refuse every later message until the refused one comes
// again) and checks that the ring got every message once, in order.
func TestMcastQueueAgainstTotemd(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 1))
		q := newMcastQueue(1 + rng.IntN(8))
		const total = 300
		var ring []int
		var doneOrder []int
		pushed := 0
		var refused uint64
		var wire []*mcastItem // sent, not yet answered
		for steps := 0; len(doneOrder) < total; steps++ {
			if steps > 100000 {
				t.Fatalf("seed %d: no progress", seed)
			}
			if pushed < total && rng.IntN(3) == 0 {
				i := pushed
				q.push([]byte{byte(i), byte(i >> 8)}, func(cs.Error) { doneOrder = append(doneOrder, i) })
				pushed++
			}
			for {
				it, ok := q.next()
				if !ok {
					break
				}
				wire = append(wire, it)
			}
			if len(wire) == 0 || rng.IntN(2) == 0 {
				continue
			}
			it := wire[0]
			wire = wire[1:]
			st := cs.OK
			switch {
			case refused != 0 && it.id != refused:
				st = cs.ErrTryAgain
			case rng.IntN(4) == 0:
				st, refused = cs.ErrTryAgain, it.id
			default:
				refused = 0
				ring = append(ring, int(it.payload[0])|int(it.payload[1])<<8)
			}
			r, err := q.ack(it.id, st)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			if r.resolved != nil {
				r.resolved.done(r.status)
			}
		}
		for i := range total {
			if ring[i] != i || doneOrder[i] != i {
				t.Fatalf("seed %d: ring order %v, done order %v", seed, ring[:i+1], doneOrder[:i+1])
			}
		}
		if len(ring) != total {
			t.Fatalf("seed %d: ring got %d messages", seed, len(ring))
		}
	}
}

func TestMcastQueueFail(t *testing.T) {
	q := newMcastQueue(2)
	for range 4 {
		q.push(nil, nil)
	}
	q.next()
	q.next()
	if got := len(q.fail()); got != 4 || q.backlog() != 0 || q.resolved != 4 {
		t.Fatalf("failed %d, backlog %d", got, q.backlog())
	}
	q.push(nil, nil)
	if it, ok := q.next(); !ok || it.id != 3 {
		t.Fatalf("after fail: %v %v (ids keep growing)", it, ok)
	}
}
