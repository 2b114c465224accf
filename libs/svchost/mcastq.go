package svchost

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// mcastQueue is the sending side of the bus's pipelining contract (see
// ipcproto.Kind) for an open-ended stream: ipcproto.Window numbers a
// fixed total, a service daemon multicasts for as long as it lives.
//
// Items leave in the order pushed, at most window awaiting an ack. An ack
// is for the oldest item awaiting one (totemd answers in order). OK pops
// the head; TryAgain stalls the queue: totemd refuses every later item
// until the refused one comes again, so the queue waits for the remaining
// acks of the run, then rewinds and resends from the refused item under
// its own id. An item is only ever removed by its own ack (accepted, or
// refused for good, e.g. TooBig) or by fail (the bus went away): nothing
// taken is dropped silently and nothing is reordered.
//
// Pure state: no goroutines, no clock. Invariants are checked on every
// step and a broken one panics (a bug here would reorder the ring).
type mcastQueue struct {
	window int
	items  []*mcastItem
	// sent is how many items from the head have been sent and await an
	// ack; head is how many of those acks arrived while stalled.
	sent, head int
	stalled    bool
	nextID     uint64
	// pushed and resolved count items ever pushed and ever resolved
	// (accepted or refused for good): a sync barrier waits for resolved
	// to reach the pushed count it recorded.
	pushed, resolved uint64
}

type mcastItem struct {
	payload []byte
	done    func(cs.Error)
	id      uint64 // bus id, given at the first send and kept on resends
}

func newMcastQueue(window int) *mcastQueue {
	if window <= 0 {
		window = 64
	}
	return &mcastQueue{window: window}
}

// push queues a multicast.
func (q *mcastQueue) push(payload []byte, done func(cs.Error)) {
	q.items = append(q.items, &mcastItem{payload: payload, done: done})
	q.pushed++
	q.check()
}

// next returns the item to send now, if one may be sent.
func (q *mcastQueue) next() (*mcastItem, bool) {
	if q.stalled || q.sent >= len(q.items) || q.sent >= q.window {
		return nil, false
	}
	it := q.items[q.sent]
	if it.id == 0 {
		q.nextID++
		it.id = q.nextID
	}
	q.sent++
	q.check()
	return it, true
}

// ackResult is what one ack did.
type ackResult struct {
	// resolved is the item the ack settled (accepted or refused for
	// good), with its status; nil for TryAgain.
	resolved *mcastItem
	status   cs.Error
	// rewound: the last ack of a refused run came in; sending resumes from
	// the refused item, after a pause that gives the ring time.
	rewound bool
}

// ack takes a KindMcastAck. An ack that matches no item awaiting one is a
// protocol error of the peer (returned, state unchanged).
func (q *mcastQueue) ack(id uint64, st cs.Error) (ackResult, error) {
	if q.head >= q.sent {
		return ackResult{}, fmt.Errorf("multicast ack %d with none outstanding", id)
	}
	if want := q.items[q.head].id; id != want {
		return ackResult{}, fmt.Errorf("multicast ack %d, expected %d", id, want)
	}
	var r ackResult
	switch {
	case st == cs.ErrTryAgain:
		q.stalled = true
		q.head++
	case q.stalled:
		// totemd refuses everything after a refused item until it comes
		// again; anything else would be out of order.
		return ackResult{}, fmt.Errorf("multicast %d answered %v after an earlier one was refused", id, st)
	default:
		r.resolved, r.status = q.items[0], st
		q.items[0] = nil
		q.items = q.items[1:]
		q.sent--
		q.resolved++
	}
	if q.stalled && q.head == q.sent {
		q.stalled, q.head, q.sent = false, 0, 0
		r.rewound = true
	}
	q.check()
	return r, nil
}

// fail removes every item (the bus session ended) and returns them in
// order for their done callbacks; they count as resolved.
func (q *mcastQueue) fail() []*mcastItem {
	out := q.items
	q.resolved += uint64(len(out))
	q.items, q.sent, q.head, q.stalled = nil, 0, 0, false
	q.check()
	return out
}

// backlog is the number of items not yet resolved.
func (q *mcastQueue) backlog() int { return len(q.items) }

func (q *mcastQueue) check() {
	switch {
	case q.sent < 0 || q.sent > len(q.items) || q.sent > q.window:
		panic(fmt.Sprintf("svchost: mcast queue: %d sent of %d items, window %d", q.sent, len(q.items), q.window))
	case q.head < 0 || q.head > q.sent || (!q.stalled && q.head != 0):
		panic(fmt.Sprintf("svchost: mcast queue: head %d, sent %d, stalled %v", q.head, q.sent, q.stalled))
	case q.resolved+uint64(len(q.items)) != q.pushed:
		panic(fmt.Sprintf("svchost: mcast queue: %d resolved + %d queued != %d pushed", q.resolved, len(q.items), q.pushed))
	}
}
