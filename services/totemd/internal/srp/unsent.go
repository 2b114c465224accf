package srp

import "errors"

// TakeUnsent removes every frame waiting in the new-message queue — frames
// Mcast accepted that no token visit has sequenced yet, so no other node
// has seen them — and appends their payloads to dst, oldest first. They
// carry no seq: the token stamps a frame when it sends it.
//
// It exists for the stack's re-pack at its own Regular configuration
// change (pg's doc, "A message straddling a ring change"): a message whose
// first frames were sequenced in the old ring must go out again whole, so
// the frames still queued are taken back and packed again behind its
// head. The caller queues them again with Mcast; the counters do not count
// them twice.
//
// With Config.ManualTransAck the node keeps two queues, and the frames of
// the old one wait behind the trans-ack gate until TransAck; frames taken
// back would be queued again in the other one, past the gate. TakeUnsent
// refuses then and takes nothing, as it does inside a token visit (a hook
// must not pull frames out of the queue the visit is sending from) and
// after Leave.
func (n *Node) TakeUnsent(dst [][]byte) ([][]byte, error) {
	switch {
	case n.cfg.ManualTransAck:
		return dst, errors.New("srp: take unsent frames: the trans-ack gate (ManualTransAck) keeps two queues; frames taken back would pass it")
	case n.inToken:
		return dst, errors.New("srp: take unsent frames: called during a token visit")
	case n.stopped:
		return dst, errors.New("srp: take unsent frames: node has left the ring")
	}
	for !n.newQ.empty() {
		f := n.newQ.pop()
		dst = append(dst, f[mcastHeaderSize:])
		n.counters.MemoMcastTx--
	}
	return dst, nil
}
