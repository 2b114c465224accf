package pg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// queueMax is corosync's MESSAGE_QUEUE_MAX at netmtu 1500 (4 MiB / 1410).
const queueMax = 2974

// sentMsg is what a sender put in, in acceptance order.
type sentMsg struct {
	group string
	seq   int
	size  int
}

// payload is the deterministic body of a sender's seq-th message.
func payload(sender uint32, seq, size int) []byte {
	b := make([]byte, size)
	x := uint64(sender)<<32 | uint64(seq)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// randSize spreads message sizes from 0 B to 1 MiB, mostly small.
func randSize(rng *rand.Rand, bigLeft *int) int {
	switch r := rng.IntN(100); {
	case r < 55:
		return rng.IntN(200)
	case r < 80:
		return 200 + rng.IntN(5000)
	case r < 97:
		return 5000 + rng.IntN(70000)
	case *bigLeft > 0:
		*bigLeft--
		if rng.IntN(2) == 0 {
			return 1 << 20
		}
		return 70000 + rng.IntN(1<<20-70000)
	}
	return 1400 + rng.IntN(10)
}

type sender struct {
	id      uint32
	swapped bool // a big-endian peer: its frames are byte-swapped
	q       *fifo
	p       *Packer
	backlog []sentMsg // generated, not yet accepted
	head    []byte    // body of backlog[0], kept across refusals
	sent    []sentMsg // accepted
}

// send offers the head of the backlog; a refusal leaves it there.
func (s *sender) send(t *testing.T) {
	if len(s.backlog) == 0 {
		return
	}
	m := s.backlog[0]
	if s.head == nil {
		s.head = payload(s.id, m.seq, m.size)
	}
	body := s.head
	var err error
	if s.swapped {
		// A big-endian peer writes its group header in its own order.
		hdr := binary.BigEndian.AppendUint16(nil, 1)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(m.group)))
		hdr = append(hdr, m.group...)
		err = s.p.SendRaw(hdr, body)
	} else {
		err = s.p.Send([]string{m.group}, body)
	}
	switch {
	case err == nil:
		s.sent = append(s.sent, m)
		s.backlog = s.backlog[1:]
		s.head = nil
	case !errors.Is(err, ErrQueueFull):
		t.Fatalf("node %d send %d: %v", s.id, m.seq, err)
	}
}

type delivered struct {
	from  uint32
	group string
	body  []byte
}

// node is one receiving processor: a Receiver feeding a Groups table.
type node struct {
	r   *Receiver
	g   Groups
	log []delivered
}

func newNode(t *testing.T) *node {
	n := &node{}
	n.r = NewReceiver(n.g.Deliver)
	for _, grp := range []string{GroupServices, GroupSync} {
		if err := n.g.Join(func(from uint32, body []byte, swapped bool) {
			n.log = append(n.log, delivered{from, grp, bytes.Clone(body)})
		}, grp); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestRoundTrip runs random message sequences from several senders through
// Packer → frames → ring order → Receiver → Groups on several nodes, as a
// token rotation would: at each visit the sender flushes (token hook) and
// then puts up to max_messages frames on the ring.
func TestRoundTrip(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { roundTrip(t, uint64(seed)) })
	}
}

func roundTrip(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x70e))
	const maxMessages = 17
	var senders []*sender
	for id := uint32(1); id <= 4; id++ {
		// Two senders get a queue just big enough for a 1 MiB message
		// (749 frames), so they fill up and see refusals.
		qcap := queueMax
		if id <= 2 {
			qcap = 760
		}
		s := &sender{id: id, swapped: id == 4, q: &fifo{cap: qcap}}
		s.p = newTestPacker(t, DefaultNetMTU, s.q)
		big := 2
		for seq := range 150 + rng.IntN(100) {
			grp := GroupServices
			if rng.IntN(4) == 0 {
				grp = GroupSync
			}
			s.backlog = append(s.backlog, sentMsg{grp, seq, randSize(rng, &big)})
		}
		senders = append(senders, s)
	}
	nodes := []*node{newNode(t), newNode(t), newNode(t)}

	busy := func() bool {
		for _, s := range senders {
			if len(s.backlog) > 0 || len(s.q.frames) > 0 || s.p.st.count > 0 || len(s.p.pending) > 0 {
				return true
			}
		}
		return false
	}
	for rot := 0; busy(); rot++ {
		if rot > 1_000_000 {
			t.Fatal("ring did not drain")
		}
		for _, s := range senders {
			// Applications send a few messages between token visits.
			for range rng.IntN(10) {
				senders[rng.IntN(len(senders))].send(t)
			}
			s.p.Flush()
			for _, f := range s.q.take(maxMessages) {
				if s.swapped {
					f = swapFrame(f)
				}
				for _, n := range nodes {
					if err := n.r.Receive(s.id, f, s.swapped); err != nil {
						t.Fatalf("node receive from %d: %v", s.id, err)
					}
				}
			}
		}
	}

	// Every node delivered the same sequence...
	for i, n := range nodes[1:] {
		if len(n.log) != len(nodes[0].log) {
			t.Fatalf("node %d delivered %d messages, node 0 %d", i+1, len(n.log), len(nodes[0].log))
		}
		for j := range n.log {
			a, b := n.log[j], nodes[0].log[j]
			if a.from != b.from || a.group != b.group || !bytes.Equal(a.body, b.body) {
				t.Fatalf("node %d differs from node 0 at delivery %d", i+1, j)
			}
		}
	}
	// ...and that is exactly what each sender sent, whole and in order.
	next := map[uint32]int{}
	byID := map[uint32]*sender{}
	total := 0
	for _, s := range senders {
		byID[s.id] = s
		total += len(s.sent)
	}
	for j, d := range nodes[0].log {
		s := byID[d.from]
		k := next[d.from]
		if k >= len(s.sent) {
			t.Fatalf("delivery %d: node %d delivered more than it sent", j, d.from)
		}
		m := s.sent[k]
		if d.group != m.group || !bytes.Equal(d.body, payload(s.id, m.seq, m.size)) {
			t.Fatalf("delivery %d: node %d message %d (%d B, %s) arrived as %d B in %s",
				j, d.from, m.seq, m.size, m.group, len(d.body), d.group)
		}
		next[d.from] = k + 1
	}
	if len(nodes[0].log) != total {
		t.Fatalf("delivered %d of %d messages", len(nodes[0].log), total)
	}
	refused := uint64(0)
	for _, s := range senders {
		refused += s.p.Stats().Refused
	}
	t.Logf("%d messages, %d frames, %d refusals", total, nodes[0].r.Stats().Frames, refused)
	if refused == 0 {
		t.Fatal("no send was refused: the run never filled a queue")
	}
	for _, n := range nodes {
		if st := n.r.Stats(); st.BadFrames+st.Broken+st.Oversize != 0 {
			t.Fatalf("receiver stats %+v", st)
		}
	}
}
