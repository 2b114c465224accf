package stack

// repackStraddle runs at this node's Regular configuration change, before
// the Receiver discards every partial message (pg's doc, "A message
// straddling a ring change"). If this node's own assembly holds the head
// of a message whose first frames were sequenced in the old ring, the
// frames srp has not sent yet are taken back and the packer sends that
// message again whole, followed by everything that was queued behind it
// (service and sync messages alike, in their order).
//
// It runs from Advance, never inside a token visit. Between srp's
// installation of the ring and this Advance no token of the new ring can
// have sent anything: the token that installed it leaves in the same
// Ready whose deliveries carry the Regular change, and the next one only
// comes back after the driver sent it.
func (s *Stack) repackStraddle() {
	head, frag := s.recv.Partial(uint32(s.Self()))
	if frag == 0 {
		return
	}
	unsent, err := s.srp.TakeUnsent(s.unsent[:0])
	if err != nil {
		s.log.Error("a message straddles the ring change and cannot be sent again whole: the new ring's members drop its rest",
			"error", err)
		return
	}
	s.unsent = unsent
	defer clear(unsent) // keep no frame alive
	if err := s.packer.Repack(head, frag, unsent); err != nil {
		s.log.Error("a message straddles the ring change and cannot be sent again whole: the new ring's members drop its rest",
			"error", err)
		return
	}
	s.log.Debug("a message straddled the ring change: sent again whole", "head_bytes", len(head), "frames_taken_back", len(unsent))
}
