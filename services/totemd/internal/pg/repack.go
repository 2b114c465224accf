package pg

import (
	"fmt"
	"slices"
)

// Repack sends again whole the message this node was sending when its ring
// changed (pg's doc, "A message straddling a ring change"). It runs at the
// node's own Regular configuration change, before Receiver.DiscardPartial:
//
//   - head is the part of that message already sequenced and delivered in
//     the old ring, lastFrag the fragment number its next frame continues
//     (Receiver.Partial of this node's own id);
//   - unsent are the payloads of the frames srp had not sequenced yet,
//     oldest first (srp's TakeUnsent): nobody has seen them.
//
// Those frames, then the Packer's pending frames, then its staging buffer
// are one chain of fragments that continues head. Repack parses the chain
// back into messages — the straddling one (head and its tail), the whole
// ones behind it, the last one whose rest is staged — and packs them again
// in the same order from an empty staging buffer, so the straddling
// message starts afresh (continuation 0) in the new ring and each sender's
// order is kept. The messages were acknowledged when they were first
// accepted: none is refused, whatever srp can take now goes to it, the
// rest waits in the pending list (Flush pushes it first).
//
// If the chain does not continue head (which EVS rules out: a sender
// delivers its own old-ring frames), Repack changes nothing of the stream:
// it queues unsent again ahead of the pending frames and reports why.
//
// It allocates, which is fine at a ring change and never happens per
// message.
func (p *Packer) Repack(head []byte, lastFrag uint8, unsent [][]byte) error {
	msgs, err := p.unpack(head, lastFrag, unsent)
	if err != nil {
		// Put the frames back as they were: first what srp had, then
		// what was waiting for it.
		p.pending = append(slices.Clone(unsent), p.pending...)
		p.drain()
		return fmt.Errorf("pg: repack after a ring change: %w", err)
	}
	old := p.pending
	p.pending = nil
	p.st = stage{next: p.st.next}
	// Bound of the pending list: the frames packed here hold the bytes of
	// srp's queue (at most its size), of the pending list (at most one
	// message's frames, as Send refuses while it is non-empty), of the
	// staging buffer (under one frame) and of head (at most one message:
	// MaxAssembleSize), and srp's queue was just emptied. So the list
	// holds at most the frames of two messages and a few more for the
	// different cuts; while it is non-empty Send refuses, so it only
	// shrinks until the next ring change, and a later re-pack only sends
	// again frames that left the queue since.
	for _, m := range msgs {
		p.pack(&p.st, m, true)
	}
	clear(old)
	p.stats.Repacks++
	p.stats.Repacked += uint64(len(msgs))
	return nil
}

// unpack parses unsent, the pending frames and the staging buffer into
// whole messages, each a list of pieces, the first one prefixed by head.
// The pieces alias the frames and a copy of the staging buffer.
func (p *Packer) unpack(head []byte, lastFrag uint8, unsent [][]byte) ([][][]byte, error) {
	if lastFrag == 0 {
		return nil, fmt.Errorf("no partial message to continue")
	}
	var msgs [][][]byte
	var cur [][]byte
	if len(head) > 0 {
		cur = append(cur, head)
	}
	prev := lastFrag
	add := func(what string, f Frame) error {
		if f.Count == 0 {
			return fmt.Errorf("%s: msg_count 0", what)
		}
		if f.Continuation != prev {
			return fmt.Errorf("%s continues fragment %d, the frame before ended with %d", what, f.Continuation, prev)
		}
		data := f.Data()
		for i := range int(f.Count) {
			piece := data[:f.PieceLen(i)]
			data = data[len(piece):]
			if i > 0 || f.Continuation == 0 {
				cur = nil // a new message starts
			}
			if len(piece) > 0 {
				cur = append(cur, piece)
			}
			if i < int(f.Count)-1 || f.Fragmented == 0 {
				msgs = append(msgs, cur)
				cur = nil
			}
		}
		prev = f.Fragmented
		return nil
	}
	for i, b := range unsent {
		f, err := ParseFrame(b, false)
		if err == nil {
			err = add(fmt.Sprintf("unsent frame %d", i), f)
		}
		if err != nil {
			return nil, err
		}
	}
	for i, b := range p.pending {
		f, err := ParseFrame(b, false)
		if err == nil {
			err = add(fmt.Sprintf("pending frame %d", i), f)
		}
		if err != nil {
			return nil, err
		}
	}
	if p.st.count > 0 {
		// The staging buffer is packed over while the messages are packed
		// again: work on a copy of it.
		staged := p.frame(FrameHeader{Continuation: p.st.cont}, p.lens[:p.st.count], p.data[:p.st.size])
		f, err := ParseFrame(staged, false)
		if err == nil {
			err = add("the staging buffer", f)
		}
		if err != nil {
			return nil, err
		}
	}
	if prev != 0 {
		return nil, fmt.Errorf("the last frame leaves fragment %d unfinished", prev)
	}
	return msgs, nil
}
