package transport

import (
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

// TestSendBatchSealsPerMember: with a codec every member's copy is sealed
// for it and opens on receipt.
func TestSendBatchSealsPerMember(t *testing.T) {
	ts := openN(t, 2, prefixCodec{key: 0x5a})
	if err := ts[1].SendBatch([]Out{{Frame: []byte("a")}, {To: 1, Frame: []byte("tok")}}); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{"a", "tok"}, {"a"}} {
		for _, w := range want {
			if p, ok := recv(t, ts[i]); !ok || string(p.Frame) != w {
				t.Fatalf("node %d: got %q ok=%v, want %q", i+1, p.Frame, ok, w)
			}
		}
		noMore(t, ts[i])
	}
}
