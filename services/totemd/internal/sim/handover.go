package sim

import (
	"fmt"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/svcid"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// A simulated daemon stopped by SIGTERM with a handover (ipcproto's doc,
// "Handing a daemon over to its successor"; totemd's side is the bus's
// handover.go). The node stack never notices: the session stays attached
// to it throughout, so the simulator plays the bus's part here, between
// the stack's outputs and the daemon:
//
//   - At the SIGTERM (half the time right behind a multicast it sends,
//     so that the multicast is still on its way to the stack and its ack
//     is held: sigterm) the daemon sends KindPark and from then on nothing
//     (pump, resends, KindSyncDone and the send loop wait). One bus hop
//     later the bus holds the session's frames in order: those queued
//     and not yet written (a frame is written one bus hop after the
//     stack gave it, wsim.carry and wsim.write) and every later one; the
//     frames written before still reach the daemon, which processes
//     them, and then KindParked, on which it hands its state over and
//     its process exits. Its state is the simDaemon's: the streams with
//     what is in flight (a multicast sent and not yet acked stays in
//     flight; its ack is held and reaches the successor), the round, the
//     ids.
//   - A successor process comes 0.1–2 s after the SIGTERM (drawn from the
//     seed). Its KindResume reaches the bus, which writes it the held
//     frames in order, then carries the session on; the successor
//     processes them, then sends what waited (the rest of its windows, a
//     resend after a TryAgain, a KindSyncDone owed) and goes on with the
//     same session, the same checker record and the same message ids.
//   - In one handover in handoverLateShare the successor comes after the
//     grace (handoverGrace from the connection's close): the bus detaches
//     the session as if its daemon had died (the other nodes see the
//     service leave), and the late successor's KindResume, with nothing
//     handed over, is an attach: a new incarnation.
//
// The real daemon (svchost) parks only when it is quiet: no round running
// and every multicast accepted. The simulated one parks at any moment of
// its life, a superset of what the bus and the stack must take: a round
// that begins or is running while it is parked waits for the successor.
const (
	handoverMin = 100 * time.Millisecond
	handoverMax = 2 * time.Second
	// handoverGrace is how long the bus keeps a handed-over session for
	// its successor. totemd's is bus.KeepGrace (10 s); the simulator's is
	// shorter, as the bus's own tests' is, so that a late successor's
	// detach and attach fall inside the churn.
	handoverGrace     = 2500 * time.Millisecond
	handoverLateShare = 8
	handoverSendWait  = 50 * time.Millisecond
)

// HandoverFaults deliberately break the simulated bus's handover (tests
// of the service checker).
type HandoverFaults struct {
	// DropHeld: the bus drops the first frame of this kind it held for
	// each handover (0: none).
	DropHeld ipcproto.Kind
	// DetachOnPark: the bus tells the stack the session ended when the
	// daemon parks, and the successor attaches a new session (carrying
	// the same checker record and message ids on, as if it were still
	// the same session): a handover the other nodes see as a detach and
	// an attach.
	DetachOnPark bool
}

// handsOver says whether the daemons of service svc hand over on SIGTERM
// (cpgd and quorumd do).
func handsOver(svc uint16) bool { return svc == svcid.Cpg || svc == svcid.Quorum }

// sigterm stops incarnation ses's process by SIGTERM with a handover:
// at once, or (half the time) right behind its next multicast, so that
// the multicast is still on its way to the stack when the daemon parks
// and its ack is held for the successor (at the latest after
// handoverSendWait, when it sent nothing).
func (d *simDaemon) sigterm(ses *simSession) {
	if d.s.rng.IntN(2) == 0 {
		d.handOver(ses)
		return
	}
	d.parkNext = ses
	proc := d.proc
	d.s.at(d.s.now+srp.Time(handoverSendWait), func() {
		if d.parkNext == ses && d.ses == ses && d.proc == proc {
			d.parkNext = nil
			d.handOver(ses)
		}
	})
}

// sent follows each multicast the daemon sends: a SIGTERM that waited
// for it parks now. It reports whether the daemon is parked.
func (d *simDaemon) sent(ses *simSession) bool {
	if d.parkNext == ses && d.ses == ses {
		d.parkNext = nil
		d.handOver(ses)
	}
	return d.parked
}

// handOver stops incarnation ses's process by SIGTERM with a handover.
func (d *simDaemon) handOver(ses *simSession) {
	delay := srp.Time(handoverMin) + srp.Time(d.s.rng.Int64N(int64(handoverMax-handoverMin)))
	if d.s.rng.IntN(handoverLateShare) == 0 {
		delay = srp.Time(handoverGrace) + srp.Time(handoverMin) + srp.Time(d.s.rng.Int64N(int64(time.Second)))
	}
	d.parked = true
	d.proc++       // the process's send loop ends
	proc := d.proc // this handover's, until a successor process starts
	d.s.tracef(d.node, "%s#%d SIGTERM: park (successor in %s)", d.name, ses.inc, delay)
	d.s.chk.Park(ses.obs, d.s.now)
	d.s.at(d.s.now+busDelay, func() {
		if !ses.up {
			return // its totemd went away meanwhile
		}
		// KindPark reached the bus: it writes KindParked and holds the
		// session's frames from now on, those queued and not yet
		// written included (the bus's writer).
		ses.holding = true
		d.s.tracef(d.node, "%s#%d parked: the bus holds its frames (%d queued)", d.name, ses.inc, len(ses.queue))
		if d.s.opts.HandoverFaults.DetachOnPark {
			d.s.endSession(ses, fmt.Errorf("broken handover: detached at the park"))
		}
		d.s.at(d.s.now+busDelay, func() {
			if !ses.up {
				return
			}
			// KindParked reached the daemon: it hands its state over
			// and its process exits; the grace begins.
			ses.handed = true
			d.s.tracef(d.node, "%s#%d handed over", d.name, ses.inc)
			d.s.at(d.s.now+srp.Time(handoverGrace), func() { d.graceEnded(ses, proc) })
		})
	})
	d.s.at(d.s.now+delay, func() { d.successor(ses, proc) })
}

// graceEnded: no successor resumed ses within the grace of the handover
// of process proc; the bus detaches it as if its daemon had died.
func (d *simDaemon) graceEnded(ses *simSession, proc uint32) {
	if d.ses != ses || d.proc != proc || !ses.up || !ses.holding {
		return
	}
	d.s.tracef(d.node, "%s#%d handover grace ended with %d frames held: detached", d.name, ses.inc, len(ses.queue))
	d.s.res.HandoversLate++
	d.s.res.Restarts++
	ses.queue = nil
	d.down(ses, fmt.Errorf("handover grace ended without a successor"))
}

// successor starts the successor process of a daemon that handed ses
// over (the handover of process proc): it resumes ses if the bus still
// keeps it, and attaches anew otherwise (KindResume with nothing handed
// over is a KindAttach).
func (d *simDaemon) successor(ses *simSession, proc uint32) {
	if d.ses != ses || d.proc != proc || !ses.up || !ses.handed {
		if d.ses == nil {
			d.s.tracef(d.node, "%s successor: nothing to resume", d.name)
			d.attach() // resets parked (or waits for its totemd's start)
		}
		return
	}
	d.s.tracef(d.node, "%s#%d successor: resume", d.name, ses.inc)
	d.s.at(d.s.now+busDelay, func() {
		if d.ses != ses || d.proc != proc || !ses.up || !ses.holding {
			if d.ses == nil {
				d.attach()
			}
			return
		}
		// KindResume reached the bus: it writes the handed-over state,
		// then the held frames, then carries the session on.
		ses.holding, ses.handed = false, false
		held := ses.queue
		ses.queue = nil
		d.s.res.Handovers++
		d.s.res.HeldFrames += len(held)
		f := d.s.opts.HandoverFaults
		if f.DetachOnPark {
			d.reattach(ses)
			return
		}
		dropped := false
		for _, m := range held {
			if d.s.res.HeldKinds == nil {
				d.s.res.HeldKinds = map[ipcproto.Kind]int{}
			}
			d.s.res.HeldKinds[m.Kind]++
			if f.DropHeld != 0 && !dropped && m.Kind == f.DropHeld {
				dropped = true
				d.s.tracef(d.node, "%s#%d broken handover: drops held %s", d.name, ses.inc, describeBus(m))
				continue
			}
			ses.queue = append(ses.queue, m)
			d.s.at(d.s.now+busDelay, func() { d.s.write(ses) })
		}
		d.s.at(d.s.now+busDelay, func() { d.resumed(ses) })
	})
}

// resumed: the successor processed the held frames; it sends what waited
// and carries on.
func (d *simDaemon) resumed(ses *simSession) {
	if d.ses != ses || !ses.up {
		return
	}
	d.parked = false
	d.s.tracef(d.node, "%s#%d resumed", d.name, ses.inc)
	d.s.chk.Resumed(ses.obs, d.s.now)
	for _, st := range []*stream{&d.sync, &d.ordinary} {
		if !st.rewinding {
			d.pump(ses, st)
		} else if st.sent == 0 && len(st.flight) > 0 && !st.resendPlanned {
			d.resend(ses, st) // the TryAgain's resend waited
		}
	}
	if d.donePending {
		d.donePending = false
		if d.round != 0 && d.roundAt == 0 {
			d.s.fromDaemon(ses, &ipcproto.Msg{Kind: ipcproto.KindSyncDone, ID: d.round})
		}
	}
	d.scheduleSend(ses)
	d.planEnd(ses)
}

// reattach is HandoverFaults.DetachOnPark's successor: a new bus session
// (the stack detached the old one at the park) that keeps the old one's
// checker record and message ids.
func (d *simDaemon) reattach(old *simSession) {
	old.up = false
	ses := &simSession{d: d, inc: old.inc, boot: d.node.boot, obs: old.obs, up: true}
	d.ses = ses
	d.ordinary, d.sync = stream{nextID: d.ordinary.nextID}, stream{sync: true, nextID: d.sync.nextID}
	d.round, d.inRound, d.donePending = 0, true, false
	d.s.fromDaemon(ses, &ipcproto.Msg{Kind: ipcproto.KindAttach, Service: d.svc, Name: d.name})
	d.s.at(d.s.now+busDelay, func() { d.resumed(ses) })
}
