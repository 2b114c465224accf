package ipcproto

import (
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

func TestWindowResendsFromTheRefused(t *testing.T) {
	w := Window{Size: 3, Total: 5}
	var sent []int
	send := func() {
		for {
			seq, ok := w.Next()
			if !ok {
				return
			}
			sent = append(sent, seq)
		}
	}
	ack := func(seq int, st cs.Error) bool {
		t.Helper()
		rewound, err := w.Ack(&Msg{Kind: KindMcastAck, ID: w.ID(seq), Status: st})
		if err != nil {
			t.Fatal(err)
		}
		return rewound
	}
	send() // 0 1 2
	if ack(0, cs.OK) {
		t.Fatal("rewound after an accept")
	}
	send() // 3
	ack(1, cs.ErrTryAgain)
	send() // nothing while stalled
	ack(2, cs.ErrTryAgain)
	if !ack(3, cs.ErrTryAgain) {
		t.Fatal("no rewind after the last outstanding ack")
	}
	send() // 1 2 3 again
	for _, seq := range []int{1, 2, 3} {
		ack(seq, cs.OK)
	}
	send() // 4
	ack(4, cs.OK)
	want := []int{0, 1, 2, 3, 1, 2, 3, 4}
	if len(sent) != len(want) {
		t.Fatalf("sent %v, want %v", sent, want)
	}
	for i := range want {
		if sent[i] != want[i] {
			t.Fatalf("sent %v, want %v", sent, want)
		}
	}
	if w.Accepted() != 5 {
		t.Errorf("accepted %d, want 5", w.Accepted())
	}
	if _, err := w.Ack(&Msg{Kind: KindMcastAck, ID: 9, Status: cs.OK}); err == nil {
		t.Error("an accept out of order was taken")
	}
}
