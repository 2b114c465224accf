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

// minHeap is a binary min-heap under less, written out (and generic) to
// avoid the interface boxing of container/heap; both simulators' event
// queues are one.
type minHeap[T any] struct {
	items []T
	less  func(a, b *T) bool
}

func (h *minHeap[T]) Len() int { return len(h.items) }

func (h *minHeap[T]) push(v T) {
	h.items = append(h.items, v)
	for i := len(h.items) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(&h.items[i], &h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *minHeap[T]) pop() T {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	var zero T
	h.items[last] = zero
	h.items = h.items[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.less(&h.items[l], &h.items[m]) {
			m = l
		}
		if r < last && h.less(&h.items[r], &h.items[m]) {
			m = r
		}
		if m == i {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top
}

// eventQueue is the SRP simulator's queue: a min-heap on (at, seq). Its
// zero value is ready to use.
type eventQueue struct {
	minHeap[event]
	seq uint64
}

func eventLess(a, b *event) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

func (q *eventQueue) push(e event) {
	q.seq++
	e.seq = q.seq
	q.less = eventLess
	q.minHeap.push(e)
}
