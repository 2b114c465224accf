package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// freePort finds a UDP port free on every 127.0.0.x address used here.
func freePort(t *testing.T) uint16 {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

func loopPeers(n int) []Peer {
	ps := make([]Peer, n)
	for i := range ps {
		ps[i] = Peer{ID: uint32(i + 1), Addr: netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})}
	}
	return ps
}

func openN(t *testing.T, n int, codec FrameCodec) []*Transport {
	t.Helper()
	port := freePort(t)
	peers := loopPeers(n)
	ts := make([]*Transport, n)
	for i := range ts {
		tr, err := Open(context.Background(), Config{Mode: UDPU, Local: peers[i].Addr, Port: port, Peers: peers, BlockUnlisted: true, Codec: codec})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		ts[i] = tr
	}
	return ts
}

// unread holds packets of a received batch the test has not looked at.
var unread = map[*Transport][]Packet{}

func recv(t *testing.T, tr *Transport) (Packet, bool) {
	t.Helper()
	if ps := unread[tr]; len(ps) > 0 {
		unread[tr] = ps[1:]
		return ps[0], true
	}
	select {
	case ps := <-tr.Packets():
		unread[tr] = ps[1:]
		return ps[0], true
	case <-time.After(2 * time.Second):
		return Packet{}, false
	}
}

func noMore(t *testing.T, tr *Transport) {
	t.Helper()
	if ps := unread[tr]; len(ps) > 0 {
		t.Fatalf("unexpected packet %q from %v", ps[0].Frame, ps[0].From)
	}
	select {
	case ps := <-tr.Packets():
		t.Fatalf("unexpected packet %q from %v", ps[0].Frame, ps[0].From)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestUDPUMcastReachesEveryMemberIncludingSelf(t *testing.T) {
	ts := openN(t, 3, nil)
	if err := ts[1].Mcast([]byte("join")); err != nil {
		t.Fatal(err)
	}
	for i, tr := range ts {
		p, ok := recv(t, tr)
		if !ok || string(p.Frame) != "join" {
			t.Fatalf("node %d: got %q ok=%v", i+1, p.Frame, ok)
		}
		if p.From.Addr() != netip.MustParseAddr("127.0.0.2") {
			t.Fatalf("node %d: from %v", i+1, p.From)
		}
		noMore(t, tr)
	}
}

func TestUDPUTokenGoesToOneNodeFromThePort(t *testing.T) {
	ts := openN(t, 3, nil)
	if err := ts[0].SendToken(3, []byte("token")); err != nil {
		t.Fatal(err)
	}
	p, ok := recv(t, ts[2])
	if !ok || string(p.Frame) != "token" {
		t.Fatalf("got %q ok=%v", p.Frame, ok)
	}
	if p.From.Port() != ts[0].cfg.Port {
		t.Fatalf("token source port %d, want %d (corosync sends tokens port to port)", p.From.Port(), ts[0].cfg.Port)
	}
	noMore(t, ts[0])
	noMore(t, ts[1])
	if err := ts[0].SendToken(9, []byte("x")); err == nil {
		t.Fatal("token to an unknown node: no error")
	}
}

func TestUDPUDropsUnlistedSources(t *testing.T) {
	ts := openN(t, 2, nil)
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(ts[0].cfg.Port)}
	for i := 0; i < 10; i++ {
		if _, err := c.WriteToUDP([]byte("garbage"), dst); err != nil {
			t.Fatal(err)
		}
	}
	// A listed sender still gets through after the garbage.
	if err := ts[1].SendToken(1, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	p, ok := recv(t, ts[0])
	if !ok || string(p.Frame) != "ok" {
		t.Fatalf("got %q ok=%v", p.Frame, ok)
	}
	if got := ts[0].Stats().DroppedUnlisted; got != 10 {
		t.Fatalf("DroppedUnlisted = %d, want 10", got)
	}
}

// prefixCodec stands in for packet crypto: it proves the transport seals
// every send, opens every receipt and drops what fails to open.
type prefixCodec struct{ key byte }

func (c prefixCodec) Seal(dst, f []byte, _ uint32) ([]byte, error) {
	return append(append(dst, c.key), f...), nil
}
func (c prefixCodec) Open(dst, d []byte) ([]byte, error) {
	if len(d) == 0 || d[0] != c.key {
		return dst, errors.New("bad key")
	}
	return append(dst, d[1:]...), nil
}

func TestUDPUCodecSealsAndDropsWhatFailsToOpen(t *testing.T) {
	port := freePort(t)
	peers := loopPeers(2)
	a, err := Open(context.Background(), Config{Mode: UDPU, Local: peers[0].Addr, Port: port, Peers: peers, Codec: prefixCodec{1}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(context.Background(), Config{Mode: UDPU, Local: peers[1].Addr, Port: port, Peers: peers, Codec: prefixCodec{2}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Mcast([]byte("wrong key")); err != nil {
		t.Fatal(err)
	}
	if p, ok := recv(t, b); !ok || !bytes.Equal(p.Frame, []byte("wrong key")) {
		t.Fatalf("own copy: %q ok=%v", p.Frame, ok)
	}
	noMore(t, a)
	if a.Stats().DroppedAuth != 1 {
		t.Fatalf("DroppedAuth = %d, want 1", a.Stats().DroppedAuth)
	}
}

func TestCloseEndsReceiveLoops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	peers := loopPeers(1)
	tr, err := Open(ctx, Config{Mode: UDPU, Local: peers[0].Addr, Port: freePort(t), Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan struct{})
	go func() { tr.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the context ended")
	}
}

// TestSocketsOutliveTheContext: cancelling the context Open got must not
// close the sockets, or a node's last frame (the leave of a clean stop,
// sent after its context ended) would be lost; only Close closes them.
func TestSocketsOutliveTheContext(t *testing.T) {
	port := freePort(t)
	peers := loopPeers(2)
	ctx, cancel := context.WithCancel(context.Background())
	ts := make([]*Transport, 2)
	for i := range ts {
		tr, err := Open(ctx, Config{Mode: UDPU, Local: peers[i].Addr, Port: port, Peers: peers, BlockUnlisted: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		ts[i] = tr
	}
	cancel()
	time.Sleep(50 * time.Millisecond) // time for anything watching ctx to act
	if err := ts[0].Mcast([]byte("leave")); err != nil {
		t.Fatalf("send after the context ended: %v", err)
	}
	if p, ok := recv(t, ts[1]); !ok || string(p.Frame) != "leave" {
		t.Fatalf("frame sent after the context ended did not arrive (got %q)", p.Frame)
	}
	if err := ts[0].Close(); err != nil {
		t.Fatal(err)
	}
	if err := ts[0].Mcast([]byte("late")); err == nil {
		t.Error("send after Close succeeded")
	}
}
