package transport

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
)

// TestSendBatchSendsInOrder: a batch of multicasts and tokens reaches
// every member in order, each multicast from the send socket and each
// token from the token port (as Mcast and SendToken would send them).
func TestSendBatchSendsInOrder(t *testing.T) {
	ts := openN(t, 3, nil)
	var outs []Out
	for i := range 40 {
		outs = append(outs, Out{Frame: []byte(fmt.Sprintf("m%d", i))})
		if i%10 == 9 {
			outs = append(outs, Out{To: 3, Frame: []byte(fmt.Sprintf("t%d", i))})
		}
	}
	if err := ts[0].SendBatch(outs); err != nil {
		t.Fatal(err)
	}
	for i, tr := range ts {
		var want []string
		for _, o := range outs {
			if o.To == 0 || o.To == uint32(i+1) {
				want = append(want, string(o.Frame))
			}
		}
		for _, w := range want {
			p, ok := recv(t, tr)
			if !ok || string(p.Frame) != w {
				t.Fatalf("node %d: got %q ok=%v, want %q", i+1, p.Frame, ok, w)
			}
			if p.From.Addr() != netip.MustParseAddr("127.0.0.1") {
				t.Fatalf("node %d: from %v", i+1, p.From)
			}
			if tok := w[0] == 't'; tok != (p.From.Port() == ts[0].cfg.Port) {
				t.Fatalf("node %d: %q came from port %d (token port %d)", i+1, w, p.From.Port(), ts[0].cfg.Port)
			}
		}
		noMore(t, tr)
	}
	if got, want := ts[0].Stats().Sent, uint64(40*3+4); got != want {
		t.Fatalf("sent counter %d, want %d", got, want)
	}
}

// TestSendBatchSealsOnce: with a codec a multicast is sealed once, for
// every member (destination 0), and that datagram reaches each member; a
// token is sealed for its node.
func TestSendBatchSealsOnce(t *testing.T) {
	codec := &toRecorder{FrameCodec: prefixCodec{key: 0x5a}}
	ts := openN(t, 2, codec)
	if err := ts[1].SendBatch([]Out{{Frame: []byte("a")}, {Frame: []byte("b")}, {To: 1, Frame: []byte("tok")}}); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{"a", "b", "tok"}, {"a", "b"}} {
		for _, w := range want {
			if p, ok := recv(t, ts[i]); !ok || string(p.Frame) != w {
				t.Fatalf("node %d: got %q ok=%v, want %q", i+1, p.Frame, ok, w)
			}
		}
		noMore(t, ts[i])
	}
	if got := fmt.Sprint(codec.to); got != "[0 0 1]" {
		t.Fatalf("sealed for %s, want [0 0 1]: each multicast once for every member, the token for node 1", got)
	}
}

// toRecorder records the destination of every Seal.
type toRecorder struct {
	FrameCodec
	to []uint32
}

func (c *toRecorder) Seal(dst, f []byte, to uint32) ([]byte, error) {
	c.to = append(c.to, to)
	return c.FrameCodec.Seal(dst, f, to)
}

// TestSendBatchLocalLoop: with LocalLoop the sender's own copies (its
// multicast copy and a token to itself) come back through TakeLocal, in
// order and unsealed, never through the kernel; the other members get
// theirs as without it, and the counters count the own copies as before.
func TestSendBatchLocalLoop(t *testing.T) {
	port := freePort(t)
	peers := loopPeers(2)
	ts := make([]*Transport, 2)
	for i := range ts {
		tr, err := Open(context.Background(), Config{Mode: UDPU, Local: peers[i].Addr, Port: port, Peers: peers,
			BlockUnlisted: true, Codec: prefixCodec{key: 0x5a}, LocalLoop: i == 0})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		ts[i] = tr
	}
	frames := [][]byte{[]byte("m1"), []byte("tok"), []byte("m2")}
	if err := ts[0].SendBatch([]Out{{Frame: frames[0]}, {To: 1, Frame: frames[1]}, {Frame: frames[2]}}); err != nil {
		t.Fatal(err)
	}
	frames[0][0] = 'x' // the kept copy is the transport's own
	local := ts[0].TakeLocal()
	var got []string
	for _, p := range local {
		got = append(got, string(p.Frame))
	}
	if fmt.Sprint(got) != "[m1 tok m2]" {
		t.Fatalf("local copies %q", got)
	}
	if len(ts[0].TakeLocal()) != 0 {
		t.Fatal("TakeLocal returned the copies twice")
	}
	noMore(t, ts[0])
	for _, w := range []string{"m1", "m2"} {
		if p, ok := recv(t, ts[1]); !ok || string(p.Frame) != w {
			t.Fatalf("node 2: got %q ok=%v, want %q", p.Frame, ok, w)
		}
	}
	noMore(t, ts[1])
	if s := ts[0].Stats(); s.Sent != 5 || s.Received != 3 {
		t.Fatalf("counters: sent %d received %d, want 5 and 3", s.Sent, s.Received)
	}
}
