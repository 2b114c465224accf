package pg

import (
	"errors"
	"fmt"
)

// ErrQueueFull is returned when srp's new-message queue cannot take every
// frame of a message right now; nothing of the message was queued.
var ErrQueueFull = errors.New("pg: srp queue cannot take the message")

// ErrTooLarge is returned for a message larger than MaxSendSize.
var ErrTooLarge = errors.New("pg: message too large")

// maxIovecs bounds the caller's pieces of one message, as corosync does
// (MAX_IOVECS_FROM_APP).
const maxIovecs = 32

// Config wires a Packer to the SRP core.
type Config struct {
	// NetMTU is totem.netmtu (DefaultNetMTU when zero).
	NetMTU int
	// Mcast queues one frame for agreed-order multicast (srp.Node.Mcast).
	// An error means the frame was not queued; the Packer keeps it and
	// retries at the next Flush.
	Mcast func(frame []byte) error
	// Avail is the number of frames srp's new-message queue can still take
	// (srp.Node.Avail).
	Avail func() int
	// Signal, when set, is called at every Send, as totempg signals
	// totemsrp at every multicast: a representative holding the token on
	// an idle ring lets it go at once (TOKEN_HOLD_CANCEL, srp.Node.Signal)
	// instead of keeping the message buffered for the rest of the hold.
	Signal func()
}

// PackerStats are cumulative counters of a Packer.
type PackerStats struct {
	Messages      uint64 // messages accepted
	Bytes         uint64 // message bytes accepted, group headers included
	Frames        uint64 // frames handed to Mcast successfully
	Refused       uint64 // messages refused (queue full or too large)
	FlushDeferred uint64 // flushes that found the srp queue full
	Pending       int    // frames built but not yet accepted by Mcast
	Repacks       uint64 // ring changes that sent a straddling message again (Repack)
	Repacked      uint64 // messages packed again by Repack
}

// stage is the packing state between calls: the staged pieces and the
// fragment numbering. It is a value so that a dry run can work on a copy.
type stage struct {
	count int   // complete (or continuing) pieces staged
	size  int   // staged data bytes
	cont  uint8 // continuation number of the first staged piece
	next  uint8 // next fragment number to hand out (1..255, skips 0)
}

// Packer is the sending half of totempg. It reproduces corosync 3.1.7's
// packing (mcast_msg): a message is copied into the staging buffer while it
// fits with two bytes to spare; otherwise as much as fits goes out at once
// as a frame with `fragmented` set, and the rest continues in the next one.
// Fed the same pieces and flushed at the same moments, it emits the same
// frames as corosync, byte for byte (capture_test.go checks this against
// real 3.1.7 traffic).
//
// Admission is exact: before touching any state, Send works out how many
// frames the message will emit now and refuses it unless srp can take them
// all. Frames srp refuses anyway (Mcast error) wait in a pending queue that
// Flush pushes first, so accepted data is never lost or reordered; Send
// refuses new messages while that queue is non-empty, which bounds it by
// the frames of one message — except after Repack, which never refuses
// messages already accepted (repack.go bounds the list then).
type Packer struct {
	mcast  func([]byte) error
	avail  func() int
	signal func()
	packet int

	st      stage
	data    []byte // staging buffer, PacketSize bytes
	lens    []int  // staged piece lengths; lens[st.count] is the piece in progress
	pending [][]byte
	lastErr error // last Mcast error, reported while frames are pending

	hdr   []byte   // scratch: encoded group header
	segs  [][]byte // scratch: the message's non-empty pieces
	stats PackerStats
}

// NewPacker checks cfg and returns an empty Packer.
func NewPacker(cfg Config) (*Packer, error) {
	mtu := cfg.NetMTU
	if mtu == 0 {
		mtu = DefaultNetMTU
	}
	ps := PacketSize(mtu)
	if ps < minPacketSize || ps > 0xFFFF {
		return nil, fmt.Errorf("pg: netmtu %d gives a packet size of %d, want %d..%d", mtu, ps, minPacketSize, 0xFFFF)
	}
	if cfg.Mcast == nil || cfg.Avail == nil {
		return nil, errors.New("pg: Config.Mcast and Config.Avail are required")
	}
	return &Packer{
		mcast:  cfg.Mcast,
		avail:  cfg.Avail,
		signal: cfg.Signal,
		packet: ps,
		st:     stage{next: 1},
		data:   make([]byte, ps),
		lens:   make([]int, ps/2+1),
	}, nil
}

// PacketSize is the TOTEMPG_PACKET_SIZE this Packer works with.
func (p *Packer) PacketSize() int { return p.packet }

// Stats returns the counters.
func (p *Packer) Stats() PackerStats {
	s := p.stats
	s.Pending = len(p.pending)
	return s
}

// Send stages one message for the given groups (e.g. GroupServices): the
// group header followed by the iov pieces, concatenated. The header goes in
// as corosync's totempg_groups_mcast_groups builds it (the lengths, then
// one piece per name), so frames split where corosync's do.
func (p *Packer) Send(groups []string, iov ...[]byte) error {
	hdr, err := AppendGroupHeader(p.hdr[:0], groups...)
	if err != nil {
		return fmt.Errorf("pg: send: %w", err)
	}
	p.hdr = hdr
	segs := append(p.segs[:0], hdr[:2+2*len(groups)])
	off := len(segs[0])
	for _, g := range groups {
		segs = append(segs, hdr[off:off+len(g)])
		off += len(g)
	}
	return p.send(groups, segs, iov)
}

// SendRaw stages one complete totempg message whose pieces already start
// with a group header (a relay, or a peer-order test message).
func (p *Packer) SendRaw(iov ...[]byte) error {
	return p.send(nil, p.segs[:0], iov)
}

// send appends the non-empty iov pieces to segs (the header pieces, if
// any) and packs the message.
func (p *Packer) send(groups []string, segs [][]byte, iov [][]byte) error {
	if p.signal != nil {
		p.signal()
	}
	if len(iov) > maxIovecs {
		return fmt.Errorf("pg: send: %d pieces, at most %d", len(iov), maxIovecs)
	}
	total := 0
	for _, b := range segs {
		total += len(b)
	}
	for _, b := range iov {
		if len(b) > 0 {
			segs = append(segs, b)
			total += len(b)
		}
	}
	p.segs = segs[:0]
	defer clear(segs) // keep no reference to the caller's buffers
	if total > MaxSendSize {
		p.stats.Refused++
		return fmt.Errorf("pg: send %d bytes to %q: limit %d: %w", total, groups, MaxSendSize, ErrTooLarge)
	}
	if total == 0 {
		return errors.New("pg: send: empty message")
	}
	p.drain()
	if len(p.pending) > 0 {
		p.stats.Refused++
		return fmt.Errorf("pg: send %d bytes to %q: %d frames still waiting for srp (%w): %w",
			total, groups, len(p.pending), p.lastErr, ErrQueueFull)
	}
	dry := p.st
	need := p.pack(&dry, segs, false)
	if free := p.avail(); need > free {
		p.stats.Refused++
		return fmt.Errorf("pg: send %d bytes to %q: needs %d frames, srp has %d free: %w",
			total, groups, need, free, ErrQueueFull)
	}
	p.pack(&p.st, segs, true)
	p.stats.Messages++
	p.stats.Bytes += uint64(total)
	return nil
}

// Flush is called from srp's token-received hook: it pushes frames still
// pending, then sends the staging buffer as one frame if it holds anything
// and srp has room (else the staged data waits for the next token).
func (p *Packer) Flush() {
	p.drain()
	if len(p.pending) > 0 || p.st.count == 0 {
		return
	}
	if p.avail() <= 0 {
		p.stats.FlushDeferred++
		return
	}
	h := FrameHeader{Continuation: p.st.cont}
	p.push(p.frame(h, p.lens[:p.st.count], p.data[:p.st.size]))
	p.st.cont, p.st.count, p.st.size = 0, 0, 0
}

// pack runs corosync's packing loop over segs from state st. With commit
// false it only counts the frames the message would emit now (a dry run on
// a copy of the state); with commit true it copies data and emits them.
func (p *Packer) pack(st *stage, segs [][]byte, commit bool) (frames int) {
	maxPkt := p.packet - 2*(st.count+1)
	cur := 0 // length of the piece in progress
	base := 0
	for i := 0; i < len(segs); {
		seg := segs[i]
		cont := st.cont
		rem := len(seg) - base
		// Fits with room to spare: stage it. (corosync compares the whole
		// segment's length here even when part of it was sent already.)
		if len(seg)+st.size < maxPkt-2 {
			if commit {
				copy(p.data[st.size:], seg[base:])
			}
			st.size += rem
			cur += rem
			st.next = 1
			base = 0
			i++
			continue
		}
		// Fits exactly or not at all: send what fits now.
		n := min(rem, maxPkt-st.size)
		var frag uint8
		if i < len(segs)-1 || base+n < len(seg) {
			if st.next == 0 {
				st.next = 1
			}
			frag = st.next
			st.cont = frag
			st.next++
		} else {
			st.cont = 0
		}
		if commit {
			copy(p.data[st.size:], seg[base:base+n])
			p.lens[st.count] = cur + n
			h := FrameHeader{Fragmented: frag, Continuation: cont}
			p.push(p.frame(h, p.lens[:st.count+1], p.data[:st.size+n]))
		}
		frames++
		st.count, st.size, cur = 0, 0, 0
		maxPkt = p.packet - 2
		if base+n == len(seg) {
			base = 0
			i++
		} else {
			base += n
		}
	}
	if cur != 0 {
		if commit {
			p.lens[st.count] = cur
		}
		st.count++
	}
	return frames
}

// frame builds a fresh frame; srp keeps it, so it is never reused.
func (p *Packer) frame(h FrameHeader, lens []int, data []byte) []byte {
	b := make([]byte, 0, FrameHeaderSize+2*len(lens)+len(data))
	return appendFrame(b, h, lens, data)
}

// push hands a frame to srp, or queues it behind earlier refused frames.
func (p *Packer) push(f []byte) {
	if len(p.pending) == 0 {
		err := p.mcast(f)
		if err == nil {
			p.stats.Frames++
			return
		}
		p.lastErr = err
	}
	p.pending = append(p.pending, f)
}

// drain pushes pending frames in order until srp refuses one.
func (p *Packer) drain() {
	i := 0
	for ; i < len(p.pending); i++ {
		if err := p.mcast(p.pending[i]); err != nil {
			p.lastErr = err
			break
		}
		p.stats.Frames++
	}
	if i == 0 {
		return
	}
	n := copy(p.pending, p.pending[i:])
	clear(p.pending[n:])
	p.pending = p.pending[:n]
}
