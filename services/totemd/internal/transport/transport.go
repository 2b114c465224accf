// Package transport moves Totem frames between nodes over UDP: udpu
// (unicast to every nodelist member) and udp (IP multicast), with the
// socket layout and ports of corosync 3.1.7 (spec/transport.md), so a
// needle node and a corosync node can share a ring.
//
// It is the I/O shell around the pure SRP core: frames go out sealed by a
// FrameCodec when crypto is configured, frames come in opened, checked and
// handed to the caller's channel. Datagrams that fail authentication, come
// from an address outside the nodelist, are too large, or (encrypted rings
// only) are authentic but not fresh — replayed, from a sender's previous
// life, or sealed for another node — are dropped and counted; they never
// reach the protocol.
//
// # Replay protection (encrypted needle rings)
//
// Every sealed datagram carries, under the HMAC, the sender's nodeid, the
// destination nodeid (0 for a multicast), the sender's epoch and a
// sequence number counted per destination (libs/nsscrypto's package doc
// has the layout and the argument). A multicast is sealed once, for every
// member, and on udpu that one datagram goes to each (sealing each copy
// for its member cost a seal per member, a third of the sending totemd's
// time at 64 KiB); a token is sealed for its node. A captured datagram is
// refused by every node that got it, a token by every other node too.
// Refusals are counted in Stats.DroppedReplay and logged at most once a
// second together with the other drops. Unencrypted rings (no FrameCodec)
// send bare Totem frames exactly as corosync 3.1.7 does: nothing changes
// on their wire, and they have no replay protection beyond Totem's own.
package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/nsscrypto"
)

// Mode selects the transport.
type Mode uint8

// The two transports corosync 3.1.7 offers besides knet.
const (
	UDPU Mode = iota // unicast to every member
	UDP              // IP multicast
)

// MaxDatagram is the receive buffer corosync 3.x uses for udp/udpu; larger
// datagrams are truncated by the kernel and dropped.
const MaxDatagram = 136192

// Peer is a configured node.
type Peer struct {
	ID   uint32
	Addr netip.Addr
}

// FrameCodec seals frames before they leave and opens them on receipt
// (libs/nsscrypto). A nil codec sends plain Totem frames, as corosync does
// on udp/udpu. Seal is told the nodeid the datagram goes to (0: the udp
// multicast group). Open appends the frame datagram carries to dst and
// returns the result, dst unchanged on error; dst never overlaps datagram,
// whose buffer the next read reuses. Open's errors that wrap
// nsscrypto.ErrReplay or nsscrypto.ErrMisdirected are counted as replays,
// any other as an authentication failure. Both append so that the
// transport can seal into its send arena and open into its receive
// batch's slab, with no buffer of their own per datagram.
type FrameCodec interface {
	Seal(dst, frame []byte, to uint32) ([]byte, error)
	Open(dst, datagram []byte) ([]byte, error)
}

// Config describes the sockets.
type Config struct {
	Mode  Mode
	Local netip.Addr // address to bind (the local node's ring0 address)
	Port  uint16     // mcastport (5405)
	Peers []Peer     // the nodelist, self included
	// Mcast is the group for Mode UDP; TTL its hop limit (default 1).
	Mcast netip.Addr
	TTL   int
	// BlockUnlisted drops udpu datagrams from addresses outside Peers
	// (totem.block_unlisted_ips, default yes).
	BlockUnlisted bool
	Codec         FrameCodec
	Logger        hclog.Logger
	// LocalLoop hands this node's own copy of what SendBatch sends to
	// itself (its udpu multicast copy, its udp multicast's local copy, a
	// token to itself) back through TakeLocal instead of the kernel or
	// Packets: the frame srp receives is the same, only the loopback
	// send and receive are saved. Nothing on the wire changes.
	LocalLoop bool
	// NoGSO turns segmented sends off (gso.go): every datagram goes to
	// the kernel on its own, as corosync sends them. NoGRO leaves
	// UDP_GRO off on the receiving sockets (enableGRO).
	NoGSO, NoGRO bool
}

// Packet is one received frame, opened and checked.
type Packet struct {
	Frame []byte
	From  netip.AddrPort
}

// Stats are cumulative drop and traffic counters. DroppedReplay counts
// authentic datagrams refused as not fresh (encrypted rings only).
type Stats struct {
	Sent, Received               uint64
	DroppedAuth, DroppedUnlisted uint64
	DroppedSize, SendErrors      uint64
	DroppedReplay                uint64
	// SentBytes and ReceivedBytes are datagram bytes as on the wire
	// (sealed); ReceivedBytes counts every datagram read, dropped or not.
	SentBytes, ReceivedBytes uint64
	// Coalesced counts datagrams that came in a UDP_GRO read of several.
	Coalesced uint64
}

// Transport is a running transport.
type Transport struct {
	cfg   Config
	log   hclog.Logger
	token *net.UDPConn            // udpu: receives everything, sends tokens; udp: receives tokens
	send  *net.UDPConn            // udpu: multicast-by-unicast sends; udp: all sends
	mrecv *net.UDPConn            // udp only: the group socket
	peers atomic.Pointer[peerSet] // replaced whole by SetPeers
	group netip.AddrPort
	in    chan []Packet
	bw    batchWriter // SendBatch's scratch
	self  netip.AddrPort
	local []Packet // LocalLoop: own copies waiting for TakeLocal
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	sent, received, dAuth, dUnlisted, dSize, sendErr atomic.Uint64
	dReplay                                          atomic.Uint64
	sentBytes, receivedBytes                         atomic.Uint64 // datagram bytes as on the wire
	coalesced                                        atomic.Uint64
	lastWarn                                         atomic.Int64 // unix nanos of the last drop warning
}

// Open binds the sockets (ctx bounds the binding) and starts the receive
// loops. Received packets arrive on Packets(). The sockets stay open until
// Close, whatever becomes of ctx: a node's last frame, the leave message
// of a clean stop, is sent after the context that stops the node was
// cancelled, and closing the sockets on that same cancellation raced the
// send (the survivors then saw a crash and waited out the token timeout).
func Open(ctx context.Context, cfg Config) (*Transport, error) {
	if !cfg.Local.IsValid() {
		return nil, errors.New("transport: no local address")
	}
	if cfg.Port == 0 {
		return nil, errors.New("transport: port 0")
	}
	if cfg.TTL == 0 {
		cfg.TTL = 1
	}
	t := &Transport{
		cfg:  cfg,
		log:  cfg.Logger,
		in:   make(chan []Packet, 1024),
		done: make(chan struct{}),
	}
	if t.log == nil {
		t.log = hclog.NewNullLogger()
	}
	t.bw.noGSO = cfg.NoGSO
	t.peers.Store(newPeerSet(cfg.Peers, cfg.Port))
	t.self = netip.AddrPortFrom(cfg.Local.Unmap(), cfg.Port)
	var err error
	switch cfg.Mode {
	case UDPU:
		err = t.openUDPU(ctx)
	case UDP:
		err = t.openUDP(ctx)
	default:
		err = fmt.Errorf("transport: unknown mode %d", cfg.Mode)
	}
	if err != nil {
		t.closeSockets()
		return nil, err
	}
	for _, c := range []*net.UDPConn{t.token, t.mrecv} {
		if c != nil {
			if !cfg.NoGRO {
				t.groOn(c)
			}
			t.wg.Add(1)
			go t.readLoop(c)
		}
	}
	return t, nil
}

func (t *Transport) openUDPU(ctx context.Context) error {
	var err error
	t.token, err = listenUDP(ctx, netip.AddrPortFrom(t.cfg.Local, t.cfg.Port))
	if err != nil {
		return fmt.Errorf("transport udpu: bind token socket: %w", err)
	}
	t.send, err = listenUDP(ctx, netip.AddrPortFrom(t.cfg.Local, 0))
	if err != nil {
		return fmt.Errorf("transport udpu: bind send socket: %w", err)
	}
	return nil
}

// Packets delivers received frames in arrival order, in batches: the
// datagrams one recvmmsg(2) returned (each batch non-empty).
func (t *Transport) Packets() <-chan []Packet { return t.in }

// SendToken sends a frame to one node (ORF token, commit token).
func (t *Transport) SendToken(to uint32, frame []byte) error {
	dst, ok := t.peers.Load().addr[to]
	if !ok {
		return fmt.Errorf("transport: no address for node %d", to)
	}
	conn := t.token
	if t.cfg.Mode == UDP {
		conn = t.send
	}
	return t.write(conn, frame, to, dst)
}

// Mcast sends a frame to every member: one datagram per nodelist member
// (udpu), or one to the group plus a local copy (udp, as corosync 3.x turns
// multicast loop off and feeds its own copy back locally).
func (t *Transport) Mcast(frame []byte) error {
	if t.cfg.Mode == UDP {
		err := t.write(t.send, frame, 0, t.group)
		t.deliverLocal(frame)
		return err
	}
	// Sealed once, for every member (destination 0), as SendBatch does.
	out, _, err := t.seal(nil, frame, 0)
	if err != nil {
		return err
	}
	var first error
	ps := t.peers.Load()
	for _, p := range ps.list {
		if err := t.writeSealed(t.send, out, ps.addr[p.ID]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// write sends one datagram to node to (0: the multicast group) at dst,
// sealed for that node when crypto is on.
func (t *Transport) write(conn *net.UDPConn, frame []byte, to uint32, dst netip.AddrPort) error {
	out, _, err := t.seal(nil, frame, to)
	if err != nil {
		return err
	}
	return t.writeSealed(conn, out, dst)
}

// seal returns frame as it goes on the wire to node to (0: every
// member): with a codec, sealed and appended to arena (grown is arena
// after it), else frame itself. A failure is counted and out is nil.
func (t *Transport) seal(arena, frame []byte, to uint32) (out, grown []byte, err error) {
	if t.cfg.Codec == nil {
		return frame, arena, nil
	}
	start := len(arena)
	grown, err = t.cfg.Codec.Seal(arena, frame, to)
	if err != nil {
		t.sendErr.Add(1)
		return nil, arena, fmt.Errorf("transport: seal: %w", err)
	}
	return grown[start:len(grown):len(grown)], grown, nil
}

// writeSealed sends one datagram as it goes on the wire.
func (t *Transport) writeSealed(conn *net.UDPConn, out []byte, dst netip.AddrPort) error {
	if _, err := conn.WriteToUDPAddrPort(out, dst); err != nil {
		// Totem recovers lost datagrams by retransmission; count and go on.
		t.sendErr.Add(1)
		return fmt.Errorf("transport: send to %s: %w", dst, err)
	}
	t.sent.Add(1)
	t.sentBytes.Add(uint64(len(out)))
	return nil
}

// TakeLocal returns (and forgets) the own copies SendBatch kept with
// LocalLoop, in the order they were sent. The caller receives them as it
// receives Packets.
func (t *Transport) TakeLocal() []Packet {
	ps := t.local
	t.local = nil
	return ps
}

// loopLocal keeps a copy of frame for TakeLocal; counted, it is a
// datagram sent and received as the kernel's loopback one was (a udpu
// copy to self), else it is not (udp's local copy never was).
func (t *Transport) loopLocal(frame []byte, counted bool) {
	t.local = append(t.local, Packet{Frame: append([]byte(nil), frame...), From: t.self})
	if counted {
		t.sent.Add(1)
		t.received.Add(1)
		t.sentBytes.Add(uint64(len(frame)))
		t.receivedBytes.Add(uint64(len(frame)))
	}
}

func (t *Transport) deliverLocal(frame []byte) {
	cp := append([]byte(nil), frame...)
	select {
	case t.in <- []Packet{{Frame: cp, From: netip.AddrPortFrom(t.cfg.Local, t.cfg.Port)}}:
	default:
		t.dSize.Add(1)
	}
}

func (t *Transport) readLoop(conn *net.UDPConn) {
	defer t.wg.Done()
	r := newBatchReader()
	for {
		got, err := r.read(conn)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Warn("receive failed", "error", err)
			continue
		}
		batch := t.unpack(r, got)
		if len(batch) == 0 {
			continue
		}
		select {
		case t.in <- batch:
		case <-t.done:
			return
		}
		// Let the node goroutine, which the batch just made runnable,
		// take it before this loop reads again: that read usually finds
		// nothing (EAGAIN) and parks, a system call and a trip through
		// the scheduler that would otherwise come before the token goes
		// on (totemd runs on one processor).
		runtime.Gosched()
	}
}

// unpack turns the got datagrams a read left in r into packets: each
// checked against the nodelist, split into its UDP_GRO segments, counted
// and opened with the codec, if any. Dropped datagrams are counted and
// left out.
func (t *Transport) unpack(r *batchReader, got int) []Packet {
	// The batch's frames share one allocation, each capped at its own
	// length: srp keeps MCAST frames and never writes them. A codec
	// opens each datagram straight from the read buffer into it (a frame
	// is never longer than its datagram, so the slab never grows),
	// without a copy of the datagram or an allocation of its own.
	total := 0
	for i := 0; i < got; i++ {
		if n := int(r.hdrs[i].len); n <= MaxDatagram {
			total += n
		}
	}
	slab := make([]byte, 0, total)
	batch := make([]Packet, 0, got)
	for i := 0; i < got; i++ {
		n := int(r.hdrs[i].len)
		from := r.from(i)
		if n > MaxDatagram {
			t.drop(&t.dSize, from, "datagram too large")
			continue
		}
		src := from.Addr().Unmap()
		if t.cfg.Mode == UDPU && t.cfg.BlockUnlisted && !t.peers.Load().allowed[src] {
			t.drop(&t.dUnlisted, from, "source not in nodelist")
			continue
		}
		buf := r.bufs[i][:n]
		// A slot holds one datagram, or with UDP_GRO several of one
		// sender coalesced by the kernel: all of seg bytes but the
		// last.
		seg := r.segment(i)
		if seg <= 0 || seg > n {
			seg = n
		} else if seg < n {
			t.coalesced.Add(uint64((n + seg - 1) / seg))
		}
		for at := 0; at < n; at += seg {
			var p Packet
			var ok bool
			if p, slab, ok = t.accept(slab, buf[at:min(at+seg, n)], from, src); ok {
				batch = append(batch, p)
			}
		}
	}
	return batch
}

// groOn turns UDP_GRO on for a receiving socket; a kernel without it
// (before 5.0) reads datagram by datagram as before.
func (t *Transport) groOn(c *net.UDPConn) {
	rc, err := c.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { err = enableGRO(int(fd)) })
		if cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		t.log.Debug("UDP_GRO not available: reading datagram by datagram", "error", err)
	}
}

// accept counts a received datagram and appends its frame to slab,
// opened with the codec if there is one; it returns the packet, whose
// frame is the appended bytes capped at their length, and the grown slab,
// or false (and slab as it was) if the datagram was dropped. datagram
// is the read buffer's, reused by the next read: the frame never aliases
// it.
func (t *Transport) accept(slab, datagram []byte, from netip.AddrPort, src netip.Addr) (Packet, []byte, bool) {
	t.receivedBytes.Add(uint64(len(datagram)))
	off := len(slab)
	var grown []byte
	if t.cfg.Codec == nil {
		grown = append(slab, datagram...)
	} else {
		var err error
		grown, err = t.cfg.Codec.Open(slab, datagram)
		if errors.Is(err, nsscrypto.ErrReplay) || errors.Is(err, nsscrypto.ErrMisdirected) {
			t.drop(&t.dReplay, from, "replayed: "+err.Error())
			return Packet{}, slab, false
		}
		if err != nil {
			t.drop(&t.dAuth, from, "authentication failed: "+err.Error())
			return Packet{}, slab, false
		}
	}
	t.received.Add(1)
	end := len(grown)
	return Packet{Frame: grown[off:end:end], From: netip.AddrPortFrom(src, from.Port())}, grown, true
}

// drop counts a rejected datagram and logs at most one warning a second,
// so a flood of garbage cannot flood the log.
func (t *Transport) drop(ctr *atomic.Uint64, from netip.AddrPort, why string) {
	ctr.Add(1)
	now := time.Now().UnixNano()
	last := t.lastWarn.Load()
	if now-last < int64(time.Second) || !t.lastWarn.CompareAndSwap(last, now) {
		return
	}
	s := t.Stats()
	t.log.Warn("dropped datagram", "from", from.String(), "reason", why,
		"auth_failures", s.DroppedAuth, "unlisted", s.DroppedUnlisted, "oversize", s.DroppedSize,
		"replayed", s.DroppedReplay)
}

// Stats returns the counters.
func (t *Transport) Stats() Stats {
	return Stats{
		Sent: t.sent.Load(), Received: t.received.Load(), Coalesced: t.coalesced.Load(),
		DroppedAuth: t.dAuth.Load(), DroppedUnlisted: t.dUnlisted.Load(),
		DroppedSize: t.dSize.Load(), SendErrors: t.sendErr.Load(),
		DroppedReplay: t.dReplay.Load(),
		SentBytes:     t.sentBytes.Load(), ReceivedBytes: t.receivedBytes.Load(),
	}
}

// Close stops the receive loops and closes the sockets.
func (t *Transport) Close() error {
	t.closeSockets()
	t.wg.Wait()
	return nil
}

func (t *Transport) closeSockets() {
	t.once.Do(func() {
		close(t.done)
		for _, c := range []*net.UDPConn{t.token, t.send, t.mrecv} {
			if c != nil {
				_ = c.Close()
			}
		}
	})
}
