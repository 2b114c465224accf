package stack

import (
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
	"github.com/needle-cluster/needle/services/totemd/internal/pload"
)

// TestPloadInStack runs two pload runs on a 3-node ring of stacks serving
// pload, with a daemon of another service multicasting throughout: every
// node reports the run with the START's count, the START asks the driver
// to delete pload.start once, a key left set starts nothing, the other
// service's multicasts are all acknowledged and delivered (pload never
// starves them), and no pload message reaches a daemon.
func TestPloadInStack(t *testing.T) {
	r := newRingOf(t, 3, func(c *Config) { c.Pload = true })
	var outs [3][]*PloadOut
	r.onPload = func(i int, po *PloadOut) { outs[i] = append(outs[i], po) }
	ses := r.formAndAttach(t, 3, pg.ServiceCpg)

	results := func(i int) (res []*pload.Result, starts int) {
		for _, po := range outs[i] {
			if po.Result != nil {
				res = append(res, po.Result)
			}
			if po.StartQueued {
				starts++
			}
		}
		return res, starts
	}
	const count = 3000
	start := pload.Settings{Count: count, Size: 300, Start: pload.Magic}
	cpgSent := 0
	for run := 1; run <= 2; run++ {
		r.step(1, PloadConfiguredEvent(start))
		r.step(1, PloadConfiguredEvent(start)) // still set: no second START
		for range 200 {
			cpgSent++
			r.step(0, BusEvent(ses[0], pg.ServiceCpg, "test", &ipcproto.Msg{Kind: ipcproto.KindMcast, ID: uint64(cpgSent),
				Payload: body(pg.ServiceCpg, uint32(cpgSent))}))
			r.run(r.now + time.Millisecond)
		}
		r.run(r.now + 5*time.Second)
		for i := range r.stacks {
			res, starts := results(i)
			if len(res) != run {
				t.Fatalf("run %d: n%d reported %d results: %+v", run, i+1, len(res), res)
			}
			got := res[run-1]
			if got.Writes != count || got.Size != 300 || got.Run != uint64(run) || got.TPS <= 0 {
				t.Fatalf("run %d: n%d result %+v", run, i+1, got)
			}
			if want := 0; i != 1 && starts != want || i == 1 && starts != run {
				t.Fatalf("run %d: n%d asked %d times to delete pload.start", run, i+1, starts)
			}
		}
		r.step(1, PloadConfiguredEvent(pload.Settings{Count: count, Size: 300})) // the driver deleted pload.start
	}
	if len(ses[0].acks) != cpgSent {
		t.Fatalf("%d of %d cpg multicasts acknowledged", len(ses[0].acks), cpgSent)
	}
	for i, s := range ses {
		n := 0
		for _, m := range s.msgs {
			if m.Kind != ipcproto.KindDeliver {
				continue
			}
			h, err := pg.DecodeExecHeader(m.Payload, m.Swapped)
			if err != nil || h.Service != pg.ServiceCpg {
				t.Fatalf("n%d: daemon got a delivery of service %d (%v)", i+1, h.Service, err)
			}
			n++
		}
		if n != cpgSent {
			t.Fatalf("n%d: %d of %d cpg multicasts delivered", i+1, n, cpgSent)
		}
	}
}
