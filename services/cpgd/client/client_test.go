package client

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/services/cpgd/wire"
)

func TestCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want cs.Error
	}{
		{nil, cs.OK},
		{cs.ErrExist, cs.ErrExist},
		{fmt.Errorf("join: %w", cs.ErrBusy), cs.ErrBusy},
		{&ConnectError{Code: cs.ErrAccess, Err: syscall.EACCES}, cs.ErrAccess},
		{fmt.Errorf("mcast: %w", qbipc.ErrTryAgain), cs.ErrTryAgain},
		{errors.New("broken pipe"), cs.ErrLibrary},
	} {
		if got := Code(c.err); got != c.want {
			t.Errorf("Code(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestDialRefusesUnknownFlags(t *testing.T) {
	if _, err := Dial(context.Background(), Options{Flags: 2}); Code(err) != cs.ErrInvalidParam {
		t.Fatalf("flags 2: %v", err)
	}
}

// TestReassemble follows libcpg's rules: a new FIRST restarts, a fragment
// without FIRST is dropped, a lying msglen never overruns.
func TestReassemble(t *testing.T) {
	c := &Client{asm: map[sender][]byte{}}
	p := func(typ uint32, total uint32, s string) (wire.Deliver, bool) {
		return c.reassemble(wire.PartialDeliver{Group: "g", NodeID: 1, PID: 2, MsgLen: total, Type: typ, Frag: []byte(s)})
	}
	if _, ok := p(wire.PartialContinued, 4, "ab"); ok {
		t.Fatal("CONTINUED without FIRST delivered")
	}
	p(wire.PartialFirst, 4, "xx")
	p(wire.PartialFirst, 4, "ab") // restarts
	if d, ok := p(wire.PartialLast, 4, "cd"); !ok || string(d.Msg) != "abcd" {
		t.Fatalf("reassembled %q %v", d.Msg, ok)
	}
	p(wire.PartialFirst, 3, "ab")
	if _, ok := p(wire.PartialLast, 3, "cd"); ok || len(c.asm) != 0 {
		t.Fatal("overrun of msglen accepted")
	}
}
