package svchost

import (
	"testing"
	"time"
)

// wantTicks is a Service stand-in for the ticker: only TickWanted matters.
type wantTicks struct {
	Service
	want bool
}

func (w *wantTicks) TickWanted() bool { return w.want }

// TestTickerOnlyWhileWanted: a TickWanter is ticked only while it wants
// it; a Service without TickWanted always.
func TestTickerOnlyWhileWanted(t *testing.T) {
	svc := &wantTicks{}
	k := newTicker(time.Millisecond, svc)
	defer k.stop()
	if k.C != nil {
		t.Fatal("ticking while not wanted")
	}
	svc.want = true
	k.update()
	select {
	case <-k.C:
	case <-time.After(5 * time.Second):
		t.Fatal("no tick while wanted")
	}
	svc.want = false
	k.update()
	if k.C != nil {
		t.Fatal("still ticking after the service stopped wanting it")
	}
	always := newTicker(time.Millisecond, struct{ Service }{})
	defer always.stop()
	if always.C == nil {
		t.Fatal("a Service without TickWanted is not ticked")
	}
	if none := newTicker(0, svc); none.C != nil {
		t.Fatal("ticking with no TickPeriod")
	}
}
