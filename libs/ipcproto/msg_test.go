package ipcproto

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

func TestRoundTrip(t *testing.T) {
	ring := &Ring{Rep: 1, Seq: 0x1b}
	cases := []*Msg{
		{Kind: KindAttach, Service: 0, Name: "cmap"},
		{Kind: KindAttached, NodeID: 3, Ring: ring},
		{Kind: KindAttached, NodeID: 3, Ring: ring, Members: []uint32{1, 3}, RingMembers: []uint32{1, 2, 3}},
		{Kind: KindMcast, ID: 7, Payload: bytes.Repeat([]byte{0xab}, 1<<20)},
		{Kind: KindMcastAck, ID: 7, Status: cs.ErrTryAgain},
		{Kind: KindDeliver, From: 2, Payload: []byte("x"), Swapped: true},
		{Kind: KindConfChg, Conf: &Conf{Type: Regular, Ring: *ring, Members: []uint32{1, 2, 3}, Joined: []uint32{3}}},
		{Kind: KindSyncInit, Ring: ring, Trans: []uint32{1, 2}, Members: []uint32{1, 2, 3}},
		{Kind: KindSyncInit, ID: 4, SyncKind: SyncService, Ring: ring, Trans: []uint32{1}, Members: []uint32{1, 3}},
		{Kind: KindConfChg, Conf: &Conf{Type: Transitional, Ring: *ring, Members: []uint32{1}, Left: []uint32{3}, RingMembers: []uint32{1, 2}}},
		{Kind: KindDeliverBatch, Batch: []Delivery{{From: 1, Payload: []byte("a")}, {From: 2, Payload: []byte("b"), Swapped: true}}},
		{Kind: KindSyncDone, Ring: ring},
		{Kind: KindRequest, ID: 9, Service: 0, Payload: []byte("set")},
		{Kind: KindResponse, ID: 9, Status: cs.OK},
		{Kind: KindError, Text: "service 2 already attached"},
		{Kind: KindReopenLogs},
		{Kind: KindPark},
		{Kind: KindParked},
		{Kind: KindUnpark},
		{Kind: KindHandover, Payload: []byte("state")},
		{Kind: KindHandoverEnd, ID: 3},
		{Kind: KindResume, Service: 2, Name: "cpg"},
		{Kind: KindDetach},
		{Kind: KindSyncProcess, ID: 4, SyncKind: SyncService, Ring: ring},
		{Kind: KindSyncActivate, ID: 4, Ring: ring, Members: []uint32{1, 2}},
		{Kind: KindSyncAbort, ID: 4},
		{Kind: KindKeep, Names: []string{"cpg"}},
		{Kind: KindKept, Names: []string{"quorum", "votequorum", "quorum"}},
		{Kind: KindKeep},
	}
	// Every kind has a case: a kind Validate does not know cannot be sent.
	for k := KindAttach; k < kindEnd; k++ {
		if !slices.ContainsFunc(cases, func(m *Msg) bool { return m.Kind == k }) {
			t.Errorf("no round-trip case for %s", k)
		}
	}
	a, b := net.Pipe()
	ca, cb := NewConn(a), NewConn(b)
	go func() {
		for _, m := range cases {
			if err := ca.Send(m); err != nil {
				t.Errorf("send %s: %v", m.Kind, err)
			}
		}
		ca.Close()
	}()
	for _, want := range cases {
		got, err := cb.Recv()
		if err != nil {
			t.Fatalf("recv %s: %v", want.Kind, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %+v want %+v", want.Kind, got, want)
		}
	}
	if _, err := cb.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after close: %v, want EOF", err)
	}
}

func TestRejects(t *testing.T) {
	cases := []struct {
		name string
		msg  *Msg
		want string
	}{
		{"unknown kind", &Msg{Kind: 99}, "unknown message kind 99"},
		{"zero kind", &Msg{}, "unknown message kind 0"},
		{"attach without name", &Msg{Kind: KindAttach, Service: 2}, "without a name"},
		{"confchg without conf", &Msg{Kind: KindConfChg}, "without a configuration"},
		{"sync without ring", &Msg{Kind: KindSyncDone}, "without a ring id"},
		{"unknown sync kind", &Msg{Kind: KindSyncInit, Ring: &Ring{}, SyncKind: 2}, "unknown sync kind 2"},
		{"empty batch", &Msg{Kind: KindDeliverBatch}, "with 0 deliveries"},
		{"keep with an empty name", &Msg{Kind: KindKeep, Names: []string{"cpg", ""}}, `names a libqb service ""`},
		{"keep of too many names", &Msg{Kind: KindKept, Names: make([]string, MaxKept+1)}, "of 17 names, at most 16"},
		{"oversize batch", &Msg{Kind: KindDeliverBatch, Batch: make(Batch, MaxBatch+1)}, "with 1025 deliveries"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Encode(c.msg); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Encode: %v, want %q", err, c.want)
			}
		})
	}
}

func TestRecvRejectsOversizeAndTruncatedFrames(t *testing.T) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], MaxFrame+1)
	c := &Conn{r: bufioReader(hdr[:])}
	if _, err := c.Recv(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	binary.BigEndian.PutUint32(hdr[:], 10)
	c = &Conn{r: bufioReader(append(hdr[:], 1, 2, 3))}
	if _, err := c.Recv(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("truncated frame: %v, want a read error", err)
	}
	binary.BigEndian.PutUint32(hdr[:], 3)
	c = &Conn{r: bufioReader(append(hdr[:], 0xc1, 0xc1, 0xc1))}
	if _, err := c.Recv(); err == nil {
		t.Fatal("garbage body accepted")
	}
}

// FuzzDecode is in decode_test.go, with the allocation bound.

// TestStatusEncoding pins the bytes of the status field: a cs_error_t
// goes on the bus as a msgpack int32, as it did before cs.Error was shared.
func TestStatusEncoding(t *testing.T) {
	for _, tc := range []struct {
		msg  *Msg
		want string
	}{
		{&Msg{Kind: KindMcastAck, ID: 7, Status: cs.ErrTryAgain}, "83a16bcc05a169cf0000000000000007a27374d200000006"},
		{&Msg{Kind: KindResponse, ID: 9, Service: 3, Status: cs.OK, Payload: []byte{1}}, "85a16bcc0ea27376cd0003a169cf0000000000000009a170c40101a27374d200000001"},
		{&Msg{Kind: KindResponse, ID: 9, Status: cs.ErrSecurity}, "83a16bcc0ea169cf0000000000000009a27374d200000064"},
	} {
		b, err := Encode(tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != tc.want {
			t.Errorf("%s status %d: %s, want %s", tc.msg.Kind, tc.msg.Status, got, tc.want)
		}
	}
}

func TestDeliveries(t *testing.T) {
	one := &Msg{Kind: KindDeliver, From: 2, Payload: []byte("x"), Swapped: true}
	if d := one.Deliveries(); len(d) != 1 || d[0].From != 2 || string(d[0].Payload) != "x" || !d[0].Swapped {
		t.Errorf("deliver: %+v", d)
	}
	batch := &Msg{Kind: KindDeliverBatch, Batch: []Delivery{{From: 1}, {From: 2}}}
	if d := batch.Deliveries(); len(d) != 2 || d[1].From != 2 {
		t.Errorf("batch: %+v", d)
	}
	if d := (&Msg{Kind: KindConfChg}).Deliveries(); d != nil {
		t.Errorf("confchg: %+v", d)
	}
	if KindDeliverBatch.String() != "deliver-batch" || SyncService.String() != "service" || SyncFull.String() != "full" {
		t.Errorf("names: %s %s %s", KindDeliverBatch, SyncService, SyncFull)
	}
}

// TestDecodeRefusesOversizeBatch: a batch header declaring more than
// MaxBatch deliveries is refused before anything is allocated for it.
func TestDecodeRefusesOversizeBatch(t *testing.T) {
	// {"k": 16, "b": array16 of 1025 empty maps}
	b := []byte{0x82, 0xa1, 'k', byte(KindDeliverBatch), 0xa1, 'b', 0xdc, 0x04, 0x01}
	b = append(b, bytes.Repeat([]byte{0x80}, MaxBatch+1)...)
	if _, err := Decode(b); err == nil || !strings.Contains(err.Error(), "at most 1024") {
		t.Fatalf("oversize batch: %v", err)
	}
}
