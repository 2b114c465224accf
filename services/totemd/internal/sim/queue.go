package sim

import "github.com/needle-cluster/needle/services/totemd/internal/srp"

type eventKind uint8

const (
	evArrive  eventKind = iota // a frame reaches node
	evReceive                  // node takes a frame out of its socket buffer
	evTimer                    // node's NextDeadline is due
	evSend                     // node's application wants to send
	evAction                   // a scheduled fault, heal, start or restart
	evProbe                    // liveness probe after healing
)

// event is one entry of the virtual-time queue. Events at the same time run
// in the order they were scheduled (seq), which keeps runs deterministic.
type event struct {
	at     srp.Time
	seq    uint64
	kind   eventKind
	node   int32 // index into Sim.nodes
	from   int32 // sender index, evArrive only
	gen    uint32
	action int32 // index into Sim.actions, evAction only
	frame  []byte
}

// eventQueue is a binary min-heap on (at, seq), written out to avoid the
// interface boxing of container/heap.
type eventQueue struct {
	items []event
	seq   uint64
}

func (q *eventQueue) Len() int { return len(q.items) }

func (q *eventQueue) push(e event) {
	q.seq++
	e.seq = q.seq
	q.items = append(q.items, e)
	i := len(q.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.items[i], q.items[p] = q.items[p], q.items[i]
		i = p
	}
}

func (q *eventQueue) pop() event {
	top := q.items[0]
	last := len(q.items) - 1
	q.items[0] = q.items[last]
	q.items[last] = event{}
	q.items = q.items[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && q.less(l, m) {
			m = l
		}
		if r < last && q.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		q.items[i], q.items[m] = q.items[m], q.items[i]
		i = m
	}
	return top
}

func (q *eventQueue) less(i, j int) bool {
	a, b := &q.items[i], &q.items[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}
