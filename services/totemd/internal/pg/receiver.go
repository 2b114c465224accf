package pg

import (
	"errors"
	"fmt"
)

// DeliverFunc receives one whole totempg message (group header included,
// e.g. Groups.Deliver). msg aliases the frame or an assembly buffer and is
// valid only during the call. An error is reported by Receive; delivery of
// the other messages goes on.
type DeliverFunc func(from uint32, msg []byte, swapped bool) error

// ReceiverStats are cumulative counters of a Receiver.
type ReceiverStats struct {
	Frames    uint64 // frames accepted
	Messages  uint64 // whole messages delivered
	BadFrames uint64 // frames dropped: length or count wrong
	Broken    uint64 // messages lost to a continuation mismatch
	Oversize  uint64 // messages dropped for exceeding MaxAssembleSize
	Dropped   uint64 // assembly buffers discarded by ConfChange or DiscardPartial
}

// assembly is one sender's partial message.
type assembly struct {
	buf        []byte
	lastFrag   uint8 // Fragmented of the sender's last frame; 0 when no partial is held
	discarding bool  // the partial message is broken: drop its pieces
}

// keepCap is the assembly capacity kept after a message completes (a
// 64 KiB message plus headers fits); larger buffers are released so that
// idle senders do not pin a megabyte each.
const keepCap = 128 << 10

func (a *assembly) reset() {
	if cap(a.buf) > keepCap {
		a.buf = nil
	}
	a.buf = a.buf[:0]
	a.lastFrag = 0
	a.discarding = false
}

// Receiver is the receiving half of totempg: one assembly buffer per
// originating node, fed srp's deliveries in agreed order.
//
// Reassembly (spec/totem.md §8 "Receiving"): a frame whose continuation
// matches the sender's last fragment number joins its first piece to the
// buffered prefix; complete pieces are delivered in order; a trailing
// fragment is kept. On a mismatch the broken message is dropped — the
// buffered prefix and, if the frame's first piece is a continuation, that
// piece and any further continuations of it — and delivery resumes with the
// next piece that starts a message. (corosync 3.1.7's throw-away mode also
// drops the complete messages of the frames around the break; the result
// is the same on a stream without breaks, which Totem guarantees within a
// configuration.)
//
// Two sets of buffers exist, as in corosync 3.x: the driver switches to the
// second while waiting for the sync trans-ack (spec/sync.md §6) if srp keeps
// a separate queue for that phase, and back afterwards.
type Receiver struct {
	deliver DeliverFunc
	sets    [2]map[uint32]*assembly
	trans   bool // using sets[1]
	stats   ReceiverStats
}

// NewReceiver returns a Receiver that hands whole messages to deliver.
func NewReceiver(deliver DeliverFunc) *Receiver {
	return &Receiver{
		deliver: deliver,
		sets:    [2]map[uint32]*assembly{{}, {}},
	}
}

// Stats returns the counters.
func (r *Receiver) Stats() ReceiverStats { return r.stats }

// SetWaitingTransAck selects the trans-ack buffer set (true) or the normal
// one (false). Call it only when srp switches its own queues for the
// trans-ack phase; a driver whose srp has one queue never calls it.
func (r *Receiver) SetWaitingTransAck(on bool) { r.trans = on }

// ConfChange discards the assembly buffers, in both sets, of the nodes in
// a configuration's left list.
func (r *Receiver) ConfChange(left []uint32) {
	for _, id := range left {
		for _, set := range r.sets {
			if _, ok := set[id]; ok {
				delete(set, id)
				r.stats.Dropped++
			}
		}
	}
}

// DiscardPartial discards every sender's partial message, in both sets, at
// a Regular configuration change (pg's doc, "A message straddling a ring
// change"). corosync discards only the buffers of nodes that left, so a
// message whose head was delivered in the old ring is completed in the new
// one by the members that hold the head and dropped by the others; with
// every buffer empty, each member of the new ring drops such a
// continuation alike, and a needle sender sends the message again whole
// (Packer.Repack).
func (r *Receiver) DiscardPartial() {
	for _, set := range r.sets {
		for _, a := range set {
			if a.lastFrag != 0 || a.discarding || len(a.buf) > 0 {
				r.stats.Dropped++
				a.reset()
			}
		}
	}
}

// Partial is the partial message buffered for node in the active set and
// the fragment number its next frame must continue; lastFrag is 0 when no
// partial message is held (or a broken one is being dropped). buf aliases
// the assembly buffer: it is valid until the next Receive or
// DiscardPartial.
func (r *Receiver) Partial(node uint32) (buf []byte, lastFrag uint8) {
	a := r.sets[r.setIndex()][node]
	if a == nil || a.discarding || a.lastFrag == 0 {
		return nil, 0
	}
	return a.buf, a.lastFrag
}

// Pending reports how many bytes of a partial message from node are
// buffered in the active set.
func (r *Receiver) Pending(node uint32) int {
	if a := r.sets[r.setIndex()][node]; a != nil {
		return len(a.buf)
	}
	return 0
}

func (r *Receiver) setIndex() int {
	if r.trans {
		return 1
	}
	return 0
}

// Receive handles one srp delivery: frame is the MCAST payload from node
// from; swapped is srp's byte-order flag. A malformed frame is counted and
// dropped, leaving the sender's assembly untouched; errors from deliver are
// joined into the result.
func (r *Receiver) Receive(from uint32, frame []byte, swapped bool) error {
	f, err := ParseFrame(frame, swapped)
	if err == nil && f.Count == 0 {
		err = errors.New("totempg frame: msg_count 0")
	}
	if err != nil {
		r.stats.BadFrames++
		return fmt.Errorf("from node %d: %w", from, err)
	}
	r.stats.Frames++
	set := r.sets[r.setIndex()]
	a := set[from]
	if a == nil {
		a = &assembly{}
		set[from] = a
	}

	join := false // piece 0 continues the buffered prefix
	drop := false // piece 0 continues a message we do not hold
	switch c := f.Continuation; {
	case c == 0:
		if a.lastFrag != 0 && !a.discarding {
			r.stats.Broken++ // the sender abandoned its partial message
		}
		a.reset()
	case c == a.lastFrag && !a.discarding:
		join = true
	default:
		if !a.discarding {
			r.stats.Broken++
		}
		a.reset()
		drop = true
	}

	var errs []error
	data := f.Data()
	n := int(f.Count)
	for i := 0; i < n; i++ {
		piece := data[:f.PieceLen(i)]
		data = data[len(piece):]
		trailing := i == n-1 && f.Fragmented != 0
		switch {
		case i == 0 && drop:
			if trailing {
				a.discarding = true
				a.lastFrag = f.Fragmented
			}
		case i == 0 && join:
			if len(a.buf)+len(piece) > MaxAssembleSize {
				r.stats.Oversize++
				a.reset()
				if trailing {
					a.discarding = true
					a.lastFrag = f.Fragmented
				}
				continue
			}
			a.buf = append(a.buf, piece...)
			if trailing {
				a.lastFrag = f.Fragmented
				continue
			}
			errs = r.emit(errs, from, a.buf, swapped)
			a.reset()
		case trailing:
			a.buf = append(a.buf[:0], piece...)
			a.lastFrag = f.Fragmented
			a.discarding = false
		default:
			errs = r.emit(errs, from, piece, swapped)
		}
	}
	if f.Fragmented == 0 {
		a.reset()
	}
	if len(errs) > 0 {
		return fmt.Errorf("from node %d: %w", from, errors.Join(errs...))
	}
	return nil
}

func (r *Receiver) emit(errs []error, from uint32, msg []byte, swapped bool) []error {
	r.stats.Messages++
	if err := r.deliver(from, msg, swapped); err != nil {
		errs = append(errs, err)
	}
	return errs
}
