package svchost

import "time"

// TickWanter is implemented by a Service whose Tick matters only at times
// (cpgd re-checks congestion while its clients are flow-controlled): the
// host ticks it only while TickWanted reports true, asked after every
// piece of owner work, so an idle daemon is not woken every TickPeriod
// (100 wake-ups a second cost an idle cpgd more CPU than all of corosync).
type TickWanter interface {
	TickWanted() bool
}

// ticker is the Service's tick: every period, or only while it is wanted.
type ticker struct {
	period time.Duration
	want   func() bool // nil: always
	t      *time.Ticker
	C      <-chan time.Time // nil (never ready) while stopped
}

func newTicker(period time.Duration, svc Service) *ticker {
	k := &ticker{period: period}
	if w, ok := svc.(TickWanter); ok {
		k.want = w.TickWanted
	}
	k.update()
	return k
}

// update starts or stops the ticker as the Service now wants.
func (k *ticker) update() {
	if k.period <= 0 {
		return
	}
	want := k.want == nil || k.want()
	switch {
	case want && k.t == nil:
		k.t = time.NewTicker(k.period)
		k.C = k.t.C
	case !want && k.t != nil:
		k.stop()
	}
}

func (k *ticker) stop() {
	if k.t != nil {
		k.t.Stop()
		k.t, k.C = nil, nil
	}
}
