package ipcproto

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// Window is the sending side of the pipelining contract (see Kind): it
// numbers a stream of Total multicasts 0, 1, … (bus ID = number + 1),
// keeps at most Size in flight, and after a TryAgain waits for every
// outstanding ack and starts again from the first message not accepted.
type Window struct {
	Size, Total int

	accepted, next, pending int
	stalled                 bool
}

// Next returns the number of the message to send now, if one may be sent.
func (w *Window) Next() (int, bool) {
	if w.stalled || w.next >= w.Total || w.pending >= max(w.Size, 1) {
		return 0, false
	}
	w.next++
	w.pending++
	return w.next - 1, true
}

// ID is the bus ID of message number seq.
func (w *Window) ID(seq int) uint64 { return uint64(seq) + 1 }

// Accepted is how many messages, from the first on, totemd has accepted.
func (w *Window) Accepted() int { return w.accepted }

// Ack takes a KindMcastAck. rewound reports that the last outstanding ack
// of a refused run came in: sending resumes from the refused message, and
// the caller should give the ring a moment first. An accept out of order
// or a refusal other than TryAgain is an error.
func (w *Window) Ack(m *Msg) (rewound bool, err error) {
	w.pending--
	switch m.Status {
	case cs.OK:
		if m.ID != w.ID(w.accepted) {
			return false, fmt.Errorf("multicast %d accepted while %d was not", m.ID, w.ID(w.accepted))
		}
		w.accepted++
	case cs.ErrTryAgain:
		w.stalled = true
	default:
		return false, fmt.Errorf("multicast %d refused: %v", m.ID, m.Status)
	}
	if w.stalled && w.pending == 0 {
		w.stalled, w.next = false, w.accepted
		return true, nil
	}
	return false, nil
}
