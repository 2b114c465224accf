package ipcproto

import (
	"bytes"
	"math/rand/v2"
	"net"
	"reflect"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/vmihailenco/msgpack/v5"
)

// randomHot builds a message of a hot kind with random field values,
// sizes crossing every msgpack length-encoding boundary.
func randomHot(r *rand.Rand) *Msg {
	sizes := []int{0, 1, 31, 255, 256, 65535, 65536, 70000}
	payload := func() []byte {
		n := sizes[r.IntN(len(sizes))]
		if n == 0 && r.IntN(2) == 0 {
			return nil
		}
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		return p
	}
	m := &Msg{Kind: []Kind{KindMcast, KindMcastAck, KindDeliver, KindDeliverBatch, KindResponse}[r.IntN(5)]}
	if r.IntN(4) > 0 {
		m.ID = r.Uint64() >> r.IntN(64)
	}
	if r.IntN(3) > 0 {
		m.From = r.Uint32()
	}
	m.Payload = payload()
	m.Swapped = r.IntN(2) == 0
	m.Status = []cs.Error{cs.OK, cs.ErrTryAgain, cs.ErrTooBig, -1}[r.IntN(4)]
	if m.Kind == KindDeliverBatch {
		n := []int{1, 2, 15, 16, 17, 70}[r.IntN(6)]
		for range n {
			p := payload()
			if len(p) > 300 {
				p = p[:300]
			}
			m.Batch = append(m.Batch, Delivery{From: r.Uint32(), Payload: p, Swapped: r.IntN(2) == 0})
		}
	}
	return m
}

// TestFastSameBytes: the hand-written encoder writes exactly what msgpack
// writes, and the fast decoder reads back what msgpack reads.
func TestFastSameBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		m := randomHot(r)
		want, err := msgpack.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendFast(nil, m)
		if !ok {
			t.Fatalf("case %d: %s not handled by the fast encoder", i, m.Kind)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (%s): fast encoding differs from msgpack\n got % x\nwant % x", i, m.Kind, head(got), head(want))
		}
		fast, ok := decodeFast(want)
		if !ok {
			t.Fatalf("case %d (%s): fast decoder refused msgpack's bytes % x", i, m.Kind, head(want))
		}
		var slow Msg
		if err := msgpack.Unmarshal(want, &slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, &slow) {
			t.Fatalf("case %d (%s): fast decode %+v, msgpack %+v", i, m.Kind, fast, slow)
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 64)] }

// TestFastFallsBack: messages with other fields go through msgpack and
// still round-trip.
func TestFastFallsBack(t *testing.T) {
	ring := Ring{Rep: 1, Seq: 2}
	for _, m := range []*Msg{
		{Kind: KindAttach, Service: 4, Name: "x"},
		{Kind: KindResponse, ID: 3, Service: 2, Text: "t"},
		{Kind: KindSyncDone, ID: 1, Ring: &ring},
	} {
		if _, ok := appendFast(nil, m); ok {
			t.Fatalf("%s with other fields taken by the fast encoder", m.Kind)
		}
		b, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := decodeFast(b); ok {
			t.Fatalf("%s with other fields taken by the fast decoder", m.Kind)
		}
		got, err := Decode(b)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("%s round trip: %+v, %v", m.Kind, got, err)
		}
	}
}

// TestSendBatchFrames: SendBatch writes the frames Send would, in order,
// and refuses a batch with an invalid message without writing anything.
func TestSendBatchFrames(t *testing.T) {
	a, b := net.Pipe()
	ca, cb := NewConn(a), NewConn(b)
	defer ca.Close()
	defer cb.Close()
	if err := ca.SendBatch([]*Msg{{Kind: KindMcast, ID: 1}, {Kind: kindEnd}}); err == nil {
		t.Fatal("a batch with an unknown kind was sent")
	}
	in := []*Msg{{Kind: KindMcast, ID: 1, Payload: []byte("a")}, {Kind: KindMcastAck, ID: 1, Status: cs.ErrTryAgain},
		{Kind: KindAttach, Service: 2, Name: "cpg"}}
	go func() { _ = ca.SendBatch(in) }()
	for i, want := range in {
		got, err := cb.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("frame %d: %+v, want %+v", i, got, want)
		}
	}
}

// FuzzDecodeFast: whatever the fast decoder accepts, msgpack (behind
// checkFrame) accepts too, with the same result.
func FuzzDecodeFast(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		m := randomHot(r)
		if m.Kind == KindDeliverBatch {
			m.Batch = m.Batch[:min(len(m.Batch), 3)]
		}
		if len(m.Payload) > 300 {
			m.Payload = m.Payload[:300]
		}
		b, _ := msgpack.Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeFast(b)
		if !ok {
			return
		}
		if err := checkFrame(b); err != nil {
			t.Fatalf("fast decoder took a frame checkFrame refuses: %v", err)
		}
		var slow Msg
		if err := msgpack.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast decoder took a frame msgpack refuses: %v", err)
		}
		if !reflect.DeepEqual(fast, &slow) {
			t.Fatalf("fast decode %+v, msgpack %+v", fast, slow)
		}
	})
}
