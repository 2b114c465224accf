package stack

// Bounds of one service's waiting multicasts. A sender's window bounds
// what it has in flight (svchost: 64), so these are only reached by a
// service that ignores acks; then totemd refuses with TryAgain, as the
// bus contract allows.
const (
	maxWaitMsgs  = 4096
	maxWaitBytes = 8 << 20
)

// mcastWait is one service's multicasts that srp's queue had no room for,
// in the order they came. Holding them instead of refusing them keeps a
// sender with many in flight from a TryAgain rewind, which resends its
// whole window over the bus after a pause: with 64 KiB messages that made
// 64 in flight slower than one.
type mcastWait struct {
	svc   Session
	items []waitingMcast
	first int // index of the head in items
	bytes int
}

type waitingMcast struct {
	id      uint64
	payload []byte
}

func (w *mcastWait) empty() bool        { return w.first == len(w.items) }
func (w *mcastWait) head() waitingMcast { return w.items[w.first] }

// push appends a multicast of svc; false when the bounds are reached.
func (w *mcastWait) push(svc Session, id uint64, payload []byte) bool {
	if w.empty() {
		w.items, w.first, w.bytes = w.items[:0], 0, 0
	}
	if len(w.items)-w.first >= maxWaitMsgs || w.bytes+len(payload) > maxWaitBytes {
		return false
	}
	w.svc = svc
	w.items = append(w.items, waitingMcast{id: id, payload: payload})
	w.bytes += len(payload)
	return true
}

func (w *mcastWait) pop() {
	w.bytes -= len(w.items[w.first].payload)
	w.items[w.first] = waitingMcast{}
	w.first++
}
