package sim

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/libs/corotypes/svcid"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// A simulated service daemon keeps the bus contract of libs/ipcproto as
// svchost does: it attaches, pipelines its ordinary multicasts in a
// window and resends from the first refused one on after a TryAgain,
// answers each round's sync_process with a few sync messages (their own
// stream) and KindSyncDone once they were all accepted, and detaches,
// crashes and restarts while the churn lasts; a daemon of a service that
// can (cpg here) is also stopped by SIGTERM with a handover (handover.go):
// it parks, its process exits, and a successor process carries the same
// bus session on. Every incarnation (one bus session) reports what it saw
// to the service checker; a session handed over is one incarnation, its
// successors' included.
type simDaemon struct {
	s    *wsim
	node *wnode
	svc  uint16
	name string

	ses            *simSession // nil while the daemon is down
	inc            uint32      // incarnations so far
	settled        bool        // the churn is over: no more detaches or crashes
	ordinary, sync stream
	round          uint64 // the round in sync_process, 0 when none
	roundAt        int    // sync messages of the round not yet acked OK
	// inRound: from the attach and from every configuration change to
	// the service's next activation, the stack may accept no ordinary
	// multicast of the daemon (ipcproto: "Multicasts during a sync
	// round"); ringSeq is the ring of its last Regular view, stamped on
	// its messages.
	inRound bool
	ringSeq uint64
	// parked: its process sent KindPark, or is gone and its successor
	// has not resumed yet (handover.go): it sends nothing. proc counts
	// its processes, so that a process's send loop ends with it;
	// donePending: the round's sync messages were all accepted while it
	// was parked, KindSyncDone is owed.
	parked      bool
	proc        uint32
	donePending bool
	// parkNext: the SIGTERM came while it was sending; it parks right
	// behind its next multicast (handover.go).
	parkNext *simSession
}

// simSession is one incarnation's bus session: what the stack knows it by.
type simSession struct {
	d    *simDaemon
	inc  uint32
	boot uint32 // the node's stack it attached to (wnode.boot)
	obs  *SvcIncarnation
	up   bool // attached and not ended
	// queue: the frames the stack addressed to the session and the bus
	// has not written yet, in order (wsim.carry, wsim.write); holding:
	// the bus holds them, from KindPark until a successor's KindResume
	// (handover.go); handed: its daemon handed over and closed its
	// connection, and the grace runs.
	queue           []*ipcproto.Msg
	holding, handed bool
}

// stream is one stream of a daemon's multicasts (ordinary or sync):
// pipelined in order, rewound to the first refused one on a TryAgain.
type stream struct {
	sync   bool
	nextID uint64
	flight []flightMsg // sent or to send, unacked, in order
	sent   int         // flight[:sent] went to the stack
	// rewinding: after a TryAgain for flight[0], acks are stale until
	// the one for flight[0]'s resend; resendAt says a resend is planned.
	rewinding, resendPlanned bool
}

type flightMsg struct {
	id      uint64
	payload []byte
	round   uint64 // a sync message's round
}

// Daemon behaviour.
const (
	daemonWindow   = 16                     // ordinary multicasts in flight
	daemonRetry    = 3 * time.Millisecond   // pause before a resend after TryAgain
	daemonSendGap  = 4 * time.Millisecond   // mean gap between ordinary multicasts
	daemonSyncMsgs = 3                      // sync messages per sync_process
	daemonDownMax  = 400 * time.Millisecond // longest time down after a detach or crash
	daemonLifeMean = 1500 * time.Millisecond
)

func newSimDaemon(s *wsim, n *wnode, svc uint16) *simDaemon {
	return &simDaemon{s: s, node: n, svc: svc, name: svcid.Name(int(svc)), sync: stream{sync: true}}
}

// attach starts a new incarnation.
func (d *simDaemon) attach() {
	if d.ses != nil || d.node.st == nil {
		return
	}
	d.inc++
	ses := &simSession{d: d, inc: d.inc, boot: d.node.boot, up: true}
	ses.obs = d.s.chk.Attach(d.node.id, d.svc, d.inc, d.s.now)
	d.ses = ses
	d.ordinary, d.sync, d.round, d.inRound, d.ringSeq = stream{}, stream{sync: true}, 0, true, 0
	d.parked, d.donePending, d.parkNext = false, false, nil
	d.proc++
	d.s.tracef(d.node, "%s#%d attach", d.name, d.inc)
	d.s.fromDaemon(ses, &ipcproto.Msg{Kind: ipcproto.KindAttach, Service: d.svc, Name: d.name})
	d.scheduleSend(ses)
	d.planEnd(ses)
}

// planEnd plans the end of incarnation ses's current process while the
// churn lasts.
func (d *simDaemon) planEnd(ses *simSession) {
	if !d.settled {
		proc := d.proc
		d.s.at(d.s.now+d.lifetime(), func() {
			if d.proc == proc {
				d.end(ses)
			}
		})
	}
}

func (d *simDaemon) lifetime() srp.Time {
	return srp.Time(d.s.rng.ExpFloat64() * float64(daemonLifeMean))
}

// end detaches or crashes incarnation ses and plans the next attach, or
// (a third of the time, for a service that can) stops its process by
// SIGTERM with a handover.
func (d *simDaemon) end(ses *simSession) {
	if d.ses != ses || d.settled || d.parked {
		return
	}
	var err error
	how := "detach"
	if handsOver(d.svc) && d.s.rng.IntN(3) == 0 {
		d.sigterm(ses)
		return
	}
	if d.s.rng.IntN(2) == 0 {
		err, how = fmt.Errorf("simulated crash"), "crash"
	}
	d.s.tracef(d.node, "%s#%d %s", d.name, ses.inc, how)
	d.down(ses, err)
	d.s.res.Restarts++
	d.s.at(d.s.now+srp.Time(d.s.rng.Int64N(int64(daemonDownMax))), d.attach)
}

// down ends incarnation ses: the stack hears of it after a bus hop.
func (d *simDaemon) down(ses *simSession, err error) {
	d.detach(ses)
	d.s.endSession(ses, err)
}

// detach ends incarnation ses on the daemon's side and for the checker.
func (d *simDaemon) detach(ses *simSession) {
	ses.up = false
	d.ses = nil
	d.s.chk.Detach(ses.obs, d.s.now)
}

// lost ends incarnation ses with its node's totemd: the bus connection
// is gone, nobody hears of the end, and the daemon attaches again to the
// next totemd (wsim.start plans it).
func (d *simDaemon) lost(ses *simSession) {
	d.s.tracef(d.node, "%s#%d lost its bus", d.name, ses.inc)
	d.detach(ses)
	d.s.res.Restarts++
}

// settle ends the churn: a daemon that is down attaches now.
func (d *simDaemon) settle() {
	d.settled = true
	if d.ses == nil {
		d.s.at(d.s.now+srp.Time(d.s.rng.Int64N(int64(50*time.Millisecond))), d.attach)
	}
}

// scheduleSend plans ses's next ordinary multicast, while the current
// process runs.
func (d *simDaemon) scheduleSend(ses *simSession) {
	gap := srp.Time(d.s.rng.ExpFloat64() * float64(daemonSendGap))
	proc := d.proc
	d.s.at(d.s.now+gap, func() {
		if d.ses != ses || d.proc != proc || d.parked || d.s.now > d.s.end-wholeDrain {
			return // sends stop wholeDrain before the end, to let them drain
		}
		if len(d.ordinary.flight) < daemonWindow {
			d.ordinary.flight = append(d.ordinary.flight, d.newMsg(&d.ordinary, 0))
			d.pump(ses, &d.ordinary)
		}
		d.scheduleSend(ses)
	})
}

// newMsg is the next message of stream st: an exec header of the
// daemon's service, then who sent it (node, service, incarnation, stream,
// id), which the checker keys deliveries by.
func (d *simDaemon) newMsg(st *stream, round uint64) flightMsg {
	st.nextID++
	b := pg.AppendExecHeader(nil, pg.ExecHeader{Service: d.svc, Fn: 1, Size: 16 + svcKeyLen})
	b = binary.BigEndian.AppendUint32(b, uint32(d.node.id))
	b = binary.BigEndian.AppendUint16(b, d.svc)
	b = binary.BigEndian.AppendUint16(b, uint16(d.inc))
	b = binary.BigEndian.AppendUint64(b, st.nextID)
	flag := uint64(0)
	if st.sync {
		flag = 1
	}
	b = binary.BigEndian.AppendUint64(b, flag)
	b = binary.BigEndian.AppendUint64(b, d.ringSeq)
	return flightMsg{id: st.nextID, payload: b, round: round}
}

// pump sends stream st's unsent messages unless it is rewinding or the
// daemon is parked.
func (d *simDaemon) pump(ses *simSession, st *stream) {
	if st.rewinding || d.parked {
		return
	}
	d.resend(ses, st)
}

// receive is a message of the stack for incarnation ses.
func (d *simDaemon) receive(ses *simSession, m *ipcproto.Msg) {
	if !ses.up {
		return // written to a session that ended: lost with it
	}
	o := ses.obs
	switch m.Kind {
	case ipcproto.KindAttached:
		d.s.chk.Attached(o, d.s.now, m)
		if m.Ring != nil {
			d.ringSeq = m.Ring.Seq
		}
	case ipcproto.KindConfChg:
		d.s.chk.ConfChg(o, d.s.now, m.Conf)
		d.inRound = true
		if m.Conf != nil && m.Conf.Type == ring.Regular {
			d.ringSeq = m.Conf.Ring.Seq
		}
	case ipcproto.KindDeliver:
		d.s.res.Delivered++
		d.s.chk.Deliver(o, d.s.now, m.From, m.Payload)
	case ipcproto.KindSyncInit:
		d.s.chk.SyncStep(o, d.s.now, m)
	case ipcproto.KindSyncProcess:
		d.s.chk.SyncStep(o, d.s.now, m)
		d.round, d.roundAt, d.donePending = m.ID, daemonSyncMsgs, false
		for range daemonSyncMsgs {
			d.sync.flight = append(d.sync.flight, d.newMsg(&d.sync, m.ID))
		}
		d.pump(ses, &d.sync)
	case ipcproto.KindSyncActivate:
		d.s.res.Rounds++
		d.inRound = false
		d.s.chk.SyncStep(o, d.s.now, m)
		d.round, d.donePending = 0, false
	case ipcproto.KindSyncAbort:
		d.s.res.Aborts++
		d.s.chk.SyncStep(o, d.s.now, m)
		d.round, d.donePending = 0, false
	case ipcproto.KindReopenLogs:
		// A cfg client's REOPEN_LOG_FILES on this node: nothing to reopen.
	case ipcproto.KindMcastAck:
		st := &d.ordinary
		if m.Sync {
			st = &d.sync
		}
		d.ack(ses, st, m)
	default:
		d.s.chk.report(KindBus, d.s.now, d.node.id, "%s#%d got an unexpected %s", d.name, ses.inc, m.Kind)
	}
}

// ack takes an ack of stream st: in order, for its oldest message.
func (d *simDaemon) ack(ses *simSession, st *stream, m *ipcproto.Msg) {
	if st.rewinding {
		if len(st.flight) == 0 || st.sent == 0 || m.ID != st.flight[0].id {
			if m.Status != cs.ErrTryAgain {
				d.s.chk.report(KindBus, d.s.now, d.node.id, "%s#%d: %d (sync=%v) acked %d behind a refused one",
					d.name, ses.inc, m.ID, st.sync, m.Status)
			}
			return // stale: refused behind the refused one
		}
		st.rewinding = false
	}
	if len(st.flight) == 0 || st.sent == 0 {
		d.s.chk.report(KindBus, d.s.now, d.node.id, "%s#%d: ack of %d (sync=%v) with nothing in flight", d.name, ses.inc, m.ID, st.sync)
		return
	}
	head := st.flight[0]
	if m.ID != head.id {
		d.s.chk.report(KindBus, d.s.now, d.node.id, "%s#%d: ack of %d (sync=%v) when %d is the oldest in flight",
			d.name, ses.inc, m.ID, st.sync, head.id)
		return
	}
	switch m.Status {
	case cs.OK:
		st.flight, st.sent = st.flight[1:], st.sent-1
		if st.sync {
			d.syncAccepted(ses, head)
		} else {
			if d.inRound {
				d.s.chk.report(KindBus, d.s.now, d.node.id, "%s#%d: ordinary multicast %d accepted during the service's own sync round",
					d.name, ses.inc, head.id)
			}
			d.s.res.Accepted++
			d.s.chk.Accepted(ses.obs, head.payload)
		}
	case cs.ErrTryAgain:
		d.s.res.TryAgains++
		// Resend from this one on, after a pause: every later one was
		// (or will be) refused too.
		st.rewinding, st.sent = true, 0
		if !st.resendPlanned {
			st.resendPlanned = true
			d.s.at(d.s.now+daemonRetry, func() {
				st.resendPlanned = false
				if d.ses != ses || d.parked || st.sent != 0 || len(st.flight) == 0 {
					return // parked: the successor resends (handover.go's resumed)
				}
				d.resend(ses, st)
			})
		}
	default:
		d.s.chk.report(KindBus, d.s.now, d.node.id, "%s#%d: %d (sync=%v) acked %d", d.name, ses.inc, m.ID, st.sync, m.Status)
		st.flight, st.sent = st.flight[1:], st.sent-1
	}
	d.pump(ses, st) // what waited behind a rewind, if it ended
}

// resend sends stream st from its first unsent message on (after a
// TryAgain that is its oldest unacked one: acks up to that one's are
// stale), and stops behind one the daemon parked after.
func (d *simDaemon) resend(ses *simSession, st *stream) {
	for st.sent < len(st.flight) {
		m := st.flight[st.sent]
		d.s.fromDaemon(ses, &ipcproto.Msg{Kind: ipcproto.KindMcast, ID: m.id, Payload: m.payload, Sync: st.sync})
		st.sent++
		if d.sent(ses) {
			return // parked: the successor sends the rest
		}
	}
}

// syncAccepted counts a sync message of the round in sync_process; when
// all were accepted, the daemon says it is done.
func (d *simDaemon) syncAccepted(ses *simSession, m flightMsg) {
	if m.round != d.round || d.round == 0 {
		return // of a round aborted since
	}
	d.roundAt--
	if d.roundAt == 0 && d.parked {
		d.donePending = true // the successor says it
	} else if d.roundAt == 0 {
		d.s.fromDaemon(ses, &ipcproto.Msg{Kind: ipcproto.KindSyncDone, ID: d.round})
	}
}

// finish checks, at the end of the run, that the attached incarnation
// delivered every ordinary multicast it got an OK for and has no sync
// round open for longer than a ring takes to re-form (wholeReform).
func (d *simDaemon) finish() {
	if d.ses != nil {
		d.s.chk.SelfDelivered(d.ses.obs, d.s.now)
		d.s.chk.RoundClosed(d.ses.obs, d.s.now, wholeReform(d.s.coreConfig(d.node.id)))
	}
}
