package transport

import (
	"context"
	"crypto/rand"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/nsscrypto"
)

// tapCodec is the production codec that also keeps a copy of every
// datagram it sealed: what went on the wire, for a test to replay.
type tapCodec struct {
	FrameCodec
	mu   sync.Mutex
	sent [][]byte
}

func (c *tapCodec) Seal(dst, f []byte, to uint32) ([]byte, error) {
	d, err := c.FrameCodec.Seal(dst, f, to)
	if err == nil {
		c.mu.Lock()
		c.sent = append(c.sent, append([]byte(nil), d[len(dst):]...))
		c.mu.Unlock()
	}
	return d, err
}

func (c *tapCodec) wire() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.sent...)
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSealedUDPURejectsReplays: three nodes on loopback with the real
// sealing codec. Node 1's datagrams as they went on the wire are sent
// again, from node 1's address, to every node: none reaches the protocol,
// each is counted as a replay (a multicast, sealed once for every member,
// as a duplicate everywhere; the token sealed for node 2 and sent to node
// 3 as misdirected), and the flood is logged at most once a second.
func TestSealedUDPURejectsReplays(t *testing.T) {
	keys, err := nsscrypto.NewKeys(nsscrypto.Suite{Cipher: nsscrypto.CipherAES256, Hash: nsscrypto.HashSHA256}, make([]byte, 128))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	peers := loopPeers(3)
	ts := make([]*Transport, 3)
	logs := make([]*logBuffer, 3)
	var tap *tapCodec
	for i := range ts {
		var codec FrameCodec = NewSealedCodec(keys, peers[i].ID, uint64(1000+i), rand.Reader)
		if i == 0 {
			tap = &tapCodec{FrameCodec: codec}
			codec = tap
		}
		logs[i] = &logBuffer{}
		tr, err := Open(context.Background(), Config{Mode: UDPU, Local: peers[i].Addr, Port: port, Peers: peers,
			BlockUnlisted: true, Codec: codec, Logger: hclog.New(&hclog.LoggerOptions{Output: logs[i]})})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		ts[i] = tr
	}
	for _, f := range []string{"join", "mcast"} {
		if err := ts[0].Mcast([]byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts[0].SendToken(2, []byte("token")); err != nil {
		t.Fatal(err)
	}
	want := map[int][]string{0: {"join", "mcast"}, 1: {"join", "mcast", "token"}, 2: {"join", "mcast"}}
	for i, tr := range ts {
		for _, w := range want[i] {
			if p, ok := recv(t, tr); !ok || string(p.Frame) != w {
				t.Fatalf("node %d: got %q ok=%v, want %q", i+1, p.Frame, ok, w)
			}
		}
	}
	captured := tap.wire()
	if len(captured) != 3 {
		t.Fatalf("%d datagrams sealed, want 3 (2 multicasts, each once for every member, and 1 token)", len(captured))
	}

	// Replay from node 1's address (another port: the transport accepts any).
	spoof, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(peers[0].Addr, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer spoof.Close()
	const rounds = 300
	start := time.Now()
	for r := range rounds {
		for _, d := range captured {
			for _, p := range peers {
				if _, err := spoof.WriteToUDPAddrPort(d, netip.AddrPortFrom(p.Addr, port)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r%30 == 0 {
			time.Sleep(100 * time.Millisecond) // spread the flood over ~1 s
		}
	}
	total := uint64(rounds * len(captured))
	deadline := time.Now().Add(5 * time.Second)
	for i, tr := range ts {
		for tr.Stats().DroppedReplay < total && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		s := tr.Stats()
		if s.DroppedReplay != total || s.DroppedAuth != 0 {
			t.Errorf("node %d: %d replays and %d auth failures counted, want %d and 0", i+1, s.DroppedReplay, s.DroppedAuth, total)
		}
		noMore(t, tr)
	}
	elapsed := time.Since(start)
	for i, l := range logs {
		out := l.String()
		n := strings.Count(out, "dropped datagram")
		if n == 0 || !strings.Contains(out, "replayed: open: ") {
			t.Errorf("node %d logged no replay:\n%s", i+1, out)
		}
		if limit := int(elapsed/time.Second) + 1; n > limit {
			t.Errorf("node %d logged %d drop warnings in %v, at most %d allowed:\n%s", i+1, n, elapsed, limit, out)
		}
	}
	// The token, sealed for node 2, sent to node 3 once more when the
	// one-warning-a-second limit lets it be logged: misdirected.
	time.Sleep(1100 * time.Millisecond)
	if _, err := spoof.WriteToUDPAddrPort(captured[len(captured)-1], netip.AddrPortFrom(peers[2].Addr, port)); err != nil {
		t.Fatal(err)
	}
	for ts[2].Stats().DroppedReplay < total+1 && time.Now().Before(deadline.Add(2*time.Second)) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs[2].String(), "this is node 3: datagram sealed for another node") {
		t.Errorf("node 3 did not log a misdirected datagram:\n%s", logs[2].String())
	}

	// Node 1 restarts (new sockets, new epoch): the others take its new
	// epoch at once, and its previous life stays refused.
	if err := ts[0].Close(); err != nil {
		t.Fatal(err)
	}
	restarted, err := Open(context.Background(), Config{Mode: UDPU, Local: peers[0].Addr, Port: port, Peers: peers,
		BlockUnlisted: true, Codec: NewSealedCodec(keys, 1, 2000, rand.Reader)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restarted.Close() })
	ts[0] = restarted
	if err := ts[0].Mcast([]byte("after restart")); err != nil {
		t.Fatal(err)
	}
	for i, tr := range ts {
		if p, ok := recv(t, tr); !ok || string(p.Frame) != "after restart" {
			t.Fatalf("node %d after node 1's restart: %q ok=%v", i+1, p.Frame, ok)
		}
	}
	before := ts[1].Stats().DroppedReplay
	for _, d := range captured {
		if _, err := spoof.WriteToUDPAddrPort(d, netip.AddrPortFrom(peers[1].Addr, port)); err != nil {
			t.Fatal(err)
		}
	}
	for ts[1].Stats().DroppedReplay < before+uint64(len(captured)) && time.Now().Before(deadline.Add(5*time.Second)) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := ts[1].Stats().DroppedReplay - before; got != uint64(len(captured)) {
		t.Fatalf("node 2 refused %d of node 1's %d datagrams from before its restart", got, len(captured))
	}
	noMore(t, ts[1])
}
