package cpg

import (
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpgmsg"
)

// BenchmarkDeliverMcast: one 1 KiB MCAST delivered to a group with three
// local members, events taken (the per-message work of cpgd's core).
func BenchmarkDeliverMcast(b *testing.B) {
	c, _ := New(Config{NodeID: 1})
	r := Round{ID: 1, Ring: ring.ID{Rep: 1, Seq: 4}, Members: []uint32{1, 2}, Trans: []uint32{1}}
	c.SyncInit(r)
	c.SyncProcess(r)
	c.SyncActivate(r)
	for i := range 3 {
		id := ConnID(i + 1)
		_ = c.Connect(id)
		c.Join(id, "bench", uint32(100+i), 0)
	}
	for _, m := range c.Ready().Mcasts {
		_ = c.Deliver(1, m, false)
	}
	_ = c.Deliver(2, cpgmsg.Encode(cpgmsg.ProcJoin{Group: "bench", PID: 7, Reason: 1}), false)
	c.Ready()
	msg := cpgmsg.Encode(cpgmsg.Mcast{Group: "bench", PID: 7, SourceNode: 2, Data: make([]byte, 1024)})
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Deliver(2, msg, false); err != nil {
			b.Fatal(err)
		}
		if len(c.Ready().Events) != 3 {
			b.Fatal("not delivered to the three members")
		}
	}
}

// BenchmarkMcast: one 1 KiB client multicast encoded for the ring.
func BenchmarkMcast(b *testing.B) {
	c, _ := New(Config{NodeID: 1})
	r := Round{ID: 1, Ring: ring.ID{Rep: 1, Seq: 4}, Members: []uint32{1}, Trans: []uint32{1}}
	c.SyncInit(r)
	c.SyncProcess(r)
	c.SyncActivate(r)
	_ = c.Connect(1)
	c.Join(1, "bench", 100, 0)
	c.Ready()
	data := make([]byte, 1024)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		c.Mcast(1, data)
		c.Ready()
	}
}
