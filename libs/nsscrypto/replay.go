package nsscrypto

import (
	"errors"
	"fmt"
	"time"
)

// WindowSize is how far behind the newest sequence number of a stream a
// datagram may still arrive and be accepted (once): the reordering an
// Opener tolerates. Sequence numbers count per destination (see Seal), so
// the window counts datagrams of one sender to this node, not the sender's
// whole traffic.
const WindowSize = 1024

// MaxLate is how long after the newest datagram of a stream an older one
// (a gap in its sequence) may still arrive and be accepted. Reordering on a
// LAN takes microseconds; a datagram that went missing and turns up later
// than this is treated as a replay of one the receiver lost, or that an
// attacker captured and held back.
const MaxLate = time.Second

// maxStreams bounds the per-sender state an Opener keeps. Only holders of
// the key can create a stream (the window is consulted after the HMAC), so
// this is defence in depth; corosync's own limit is 384 processors, and
// each sender has at most two streams here (to this node, to the group).
const maxStreams = 4096

// Reasons Open rejects an authentic datagram that is not fresh.
var (
	ErrReplay      = errors.New("replayed or stale datagram")
	ErrMisdirected = errors.New("datagram sealed for another node")
	ErrTooMany     = errors.New("too many senders")
)

// streamKey names one sequence stream: what one sender seals for this
// node, or for every member at once (udp multicast, destination 0).
type streamKey struct {
	sender uint32
	group  bool
}

// stream is the freshness state of one stream: the sender's current epoch,
// the first sequence number accepted in it (floor), the highest (top) and
// when that arrived, and which of the WindowSize numbers up to top were
// seen (bit seq % WindowSize).
type stream struct {
	epoch, floor, top uint64
	topAt             time.Time
	seen              [WindowSize / 64]uint64
}

func (s *stream) bit(seq uint64) (word int, mask uint64) {
	i := seq % WindowSize
	return int(i / 64), 1 << (i % 64)
}

// replayWindow is the receive side of the replay protection: a pure state
// machine (no clock, no I/O) fed with the (sender, epoch, sequence) of
// authentic datagrams. The rules, in the terms of the package doc:
//
//   - a stream never heard of is accepted, whatever its epoch and sequence
//     (trust on first use: the limit discussed in the package doc); that
//     first sequence number is the stream's floor: anything the sender
//     sealed before it (while this node was not yet listening) is refused;
//   - a higher epoch than the stream's means the sender restarted: the
//     stream starts afresh at that datagram, which is its new floor;
//   - a lower epoch is stale: rejected, for good;
//   - in the current epoch a sequence number above the newest is accepted
//     and becomes the newest; one below it is accepted once if it is
//     above the floor, at most WindowSize-1 below the newest, and arrives
//     less than MaxLate after the newest did; anything else is rejected.
//
// check and accept are split so that nothing is recorded for a datagram
// whose decryption or padding fails after its window check.
type replayWindow struct {
	streams map[streamKey]*stream
}

// check reports why (epoch, seq) arriving at now on stream k must be
// refused, or nil. It changes nothing. now only needs a monotonic reading.
func (w *replayWindow) check(k streamKey, epoch, seq uint64, now time.Time) error {
	s, ok := w.streams[k]
	switch {
	case !ok:
		if len(w.streams) >= maxStreams {
			return fmt.Errorf("node %d: %d streams already tracked: %w", k.sender, len(w.streams), ErrTooMany)
		}
		return nil
	case epoch > s.epoch:
		return nil
	case epoch < s.epoch:
		return fmt.Errorf("node %d: epoch %d is older than its current epoch %d: %w", k.sender, epoch, s.epoch, ErrReplay)
	case seq > s.top:
		return nil
	case seq < s.floor:
		return fmt.Errorf("node %d: sequence %d of epoch %d is from before the first one received, %d: %w", k.sender, seq, epoch, s.floor, ErrReplay)
	case s.top-seq >= WindowSize:
		return fmt.Errorf("node %d: sequence %d is %d behind the newest %d (window %d): %w", k.sender, seq, s.top-seq, s.top, WindowSize, ErrReplay)
	}
	word, mask := s.bit(seq)
	if s.seen[word]&mask != 0 {
		return fmt.Errorf("node %d: sequence %d of epoch %d already received: %w", k.sender, seq, epoch, ErrReplay)
	}
	if late := now.Sub(s.topAt); late >= MaxLate {
		return fmt.Errorf("node %d: sequence %d arrived %v after the newer %d (at most %v): %w", k.sender, seq, late.Round(time.Millisecond), s.top, MaxLate, ErrReplay)
	}
	return nil
}

// accept records (epoch, seq) on stream k; check must have returned nil
// for it just before. A broken call order panics: that is a bug here, not
// bad input.
func (w *replayWindow) accept(k streamKey, epoch, seq uint64, now time.Time) {
	if err := w.check(k, epoch, seq, now); err != nil {
		panic(fmt.Sprintf("nsscrypto: replay window accept after a failed check: %v", err))
	}
	if w.streams == nil {
		w.streams = make(map[streamKey]*stream)
	}
	s, ok := w.streams[k]
	if !ok || epoch > s.epoch {
		if !ok {
			s = new(stream)
			w.streams[k] = s
		}
		*s = stream{epoch: epoch, floor: seq, top: seq, topAt: now}
		word, mask := s.bit(seq)
		s.seen[word] |= mask
		return
	}
	if seq > s.top {
		if seq-s.top >= WindowSize {
			s.seen = [WindowSize / 64]uint64{}
		} else {
			for q := s.top + 1; q < seq; q++ {
				word, mask := s.bit(q)
				s.seen[word] &^= mask
			}
		}
		s.top, s.topAt = seq, now
	}
	word, mask := s.bit(seq)
	s.seen[word] |= mask
}
