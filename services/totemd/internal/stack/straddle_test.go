package stack

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
)

// bigBody is a service message of n bytes after its tag.
func bigBody(svc uint16, tag uint32, n int) []byte {
	b := pg.AppendExecHeader(nil, pg.ExecHeader{Service: svc, Fn: 1, Size: uint32(16 + 4 + n)})
	b = binary.BigEndian.AppendUint32(b, tag)
	for i := range n {
		b = append(b, byte(i*7+int(tag)))
	}
	return b
}

// TestStraddlingMessageDeliveredOnceByAll: four nodes split in two rings,
// {1,2} and {3,4}. Node 1 multicasts a message X too large for one token
// visit, then a small Y; once node 2 holds the head of X, the network
// heals and the rings merge while the rest of X is still queued. X and Y
// are then delivered by every member of the merged ring exactly once, in
// one order, after what the old rings delivered (W of node 3 in {3,4}) and
// before what comes after (V of node 4). Without the re-pack node 2
// completed X and nodes 3 and 4 dropped it.
func TestStraddlingMessageDeliveredOnceByAll(t *testing.T) {
	r := newRing(t, 4)
	r.cut = func(a, b int) bool { return a/2 != b/2 }
	ss := r.formAndAttach(t, 2, 4)
	const w, x, y, v = 1, 2, 3, 4
	mcast := func(s *session, id uint64, payload []byte) {
		r.step(s.node, BusEvent(s, 4, "test", &ipcproto.Msg{Kind: ipcproto.KindMcast, ID: id, Payload: payload}))
	}
	mcast(ss[2], 1, body(4, w))
	r.run(r.now + 50*time.Millisecond)
	if got := delivered(ss[3]); !slices.Equal(got, []uint32{w}) {
		t.Fatalf("n4 delivered %v before the heal, want [W]", got)
	}

	mcast(ss[0], 1, bigBody(4, x, 200<<10))
	mcast(ss[0], 2, body(4, y))
	for r.stacks[1].recv.Pending(1) == 0 {
		if r.now > 10*time.Second {
			t.Fatal("n2 never held the head of X")
		}
		r.run(r.now + hop)
	}
	r.cut = nil
	r.run(r.now + 3*time.Second)
	for i, st := range r.stacks {
		if m := st.Membership(); len(m.Members) != 4 || !m.Synced {
			t.Fatalf("n%d: membership %+v after the heal", i+1, m)
		}
	}
	mcast(ss[3], 1, body(4, v))
	r.run(r.now + time.Second)

	for i, s := range ss {
		want := []uint32{x, y, v}
		if i >= 2 {
			want = []uint32{w, x, y, v}
		}
		if got := delivered(s); !slices.Equal(got, want) {
			t.Fatalf("n%d delivered %v, want %v", i+1, got, want)
		}
		for _, m := range s.msgs {
			if m.Kind == ipcproto.KindDeliver && binary.BigEndian.Uint32(m.Payload[16:]) == x &&
				!slices.Equal(m.Payload, bigBody(4, x, 200<<10)) {
				t.Fatalf("n%d delivered X with other bytes", i+1)
			}
		}
	}
	if n := r.stacks[0].packer.Stats().Repacks; n != 1 {
		t.Fatalf("n1 re-packed %d times, want once: X did not straddle the change", n)
	}
}
