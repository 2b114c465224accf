package svchost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
)

// Reattach backoff bounds and the pause before resending after TryAgain.
const (
	busRetryMin = 100 * time.Millisecond
	busRetryMax = 2 * time.Second
	// busStable is how long a session must have lasted for the backoff to
	// start again from busRetryMin.
	busStable  = 5 * time.Second
	mcastRetry = 10 * time.Millisecond
)

// busState is the daemon's attachment to totemd; every field but the
// reconnect loop's locals is owned by the owner goroutine.
type busState struct {
	d *Daemon
	// sess is the session the owner currently takes messages from; conn
	// is set once totemd answered the attach (nil while detached).
	sess     *session
	conn     *ipcproto.Conn
	attached bool // Service.Attached was called for sess
	nodeID   uint32

	// q and sq are the ordinary and the sync stream of multicasts
	// (ipcproto's doc: "Multicasts during a sync round"): sq holds what the
	// service queued while processing a round (from SyncProcess to its
	// SyncDone); it is sent first and may overtake q, whose items totemd
	// refuses until the round's activation. Each keeps its own order.
	q, sq     *mcastQueue
	retryWait [2]bool // per stream (0 ordinary, 1 sync): a resend after TryAgain is scheduled
	pumpDue   bool    // a pump is deferred to the end of the owner's work
	out       []*ipcproto.Msg

	reqSeq uint64
	reqs   map[uint64]func(cs.Error, []byte)

	round *roundState
	cmap  *busCmap

	// att is the session as the service last saw it (a handover carries
	// it to the successor).
	att Attachment
	// Handing over (handover.go): parking is set once KindPark went out;
	// from then on frames to send wait in held. parked is set when totemd
	// confirmed (KindParked); handedOver once the clients went to the
	// successor: the session's end then no longer concerns the service.
	parking, parked, handedOver bool
	held                        []*ipcproto.Msg
}

// session is one connection to totemd; messages of an old session that
// arrive after a reconnect are recognised and dropped.
type session struct{ conn *ipcproto.Conn }

// roundState is the sync round in progress.
type roundState struct {
	r SyncRound
	// processing: SyncProcess was called and the service has not reported
	// done yet; what it multicasts meanwhile are its sync messages.
	processing bool
	// barrier is the sync stream's count SyncDone must see resolved; set
	// when the service reported done.
	barrier  uint64
	doneSeen bool
	doneSent bool
}

func newBusState(d *Daemon) *busState {
	b := &busState{d: d, q: newMcastQueue(d.opts.Window), sq: newMcastQueue(d.opts.Window), reqs: map[uint64]func(cs.Error, []byte){}}
	b.cmap = newBusCmap(b, d.opts.CmapPrefixes)
	return b
}

// loop keeps the daemon attached to totemd, reconnecting with exponential
// backoff while totemd is not there or after it went away. first, if
// set, is a session already open (a successor's KindResume: the owner has
// made it b.sess), and pending what it received before the loop started.
func (b *busState) loop(ctx context.Context, first *session, pending []*ipcproto.Msg) {
	wait := busRetryMin
	var lastErr string
	for ctx.Err() == nil {
		start := time.Now()
		var err error
		if first != nil {
			err = b.serve(ctx, first, pending)
			first, pending = nil, nil
		} else {
			err = b.run(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > busStable {
			wait = busRetryMin
		}
		if msg := err.Error(); msg != lastErr {
			b.d.log.Warn("service bus unavailable, retrying", "bus", b.d.busPath, "error", err)
			lastErr = msg
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, busRetryMax)
	}
}

// run attaches once and feeds every message to the owner until the
// connection ends.
func (b *busState) run(ctx context.Context) error {
	conn, err := ipcproto.Dial(ctx, b.d.busPath)
	if err != nil {
		return err
	}
	s := &session{conn: conn}
	if !b.d.Post(func() { b.sess = s }) {
		conn.Close()
		return ctx.Err()
	}
	if err := conn.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: b.d.opts.Service, Name: b.d.opts.Name}); err != nil {
		conn.Close()
		b.d.Post(func() { b.detached(s) })
		return err
	}
	return b.serve(ctx, s, nil)
}

// serve feeds every message of session s to the owner until the
// connection ends, pending (already received) first.
func (b *busState) serve(ctx context.Context, s *session, pending []*ipcproto.Msg) error {
	conn := s.conn
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	// Frames that arrived together are handed to the owner as one piece of
	// work, so the multicasts their acks make room for leave together too
	// (schedulePump).
	if len(pending) > 0 && !b.d.Post(func() {
		for _, m := range pending {
			b.onMsg(s, m)
		}
	}) {
		return errors.New("daemon stopped")
	}
	var batch []*ipcproto.Msg
	for {
		m, err := conn.Recv()
		if err == nil && m.Kind == ipcproto.KindError {
			err = fmt.Errorf("totemd refused %s: %s", b.d.opts.Program, m.Text)
		} else if errors.Is(err, io.EOF) {
			err = errors.New("totemd closed the bus connection")
		}
		if err == nil {
			batch = append(batch, m)
			if len(batch) < maxRecvBatch && conn.FrameBuffered() {
				continue
			}
		}
		if len(batch) > 0 {
			ms := batch
			batch = nil
			if !b.d.Post(func() {
				for _, m := range ms {
					b.onMsg(s, m)
				}
			}) {
				return errors.New("daemon stopped")
			}
		}
		if err != nil {
			b.d.Post(func() { b.detached(s) })
			return err
		}
	}
}

// maxRecvBatch bounds the frames handed to the owner as one piece of work.
const maxRecvBatch = 256

// detached ends session s: queued multicasts and requests fail, a sync
// round in progress is aborted, the Service learns it.
func (b *busState) detached(s *session) {
	if b.sess != s {
		return
	}
	wasAttached := b.attached && !b.handedOver
	b.sess, b.conn, b.attached = nil, nil, false
	b.parking, b.parked, b.held = false, false, nil
	for _, it := range append(b.sq.fail(), b.q.fail()...) {
		if it.done != nil {
			done := it.done
			b.d.later(func() { done(cs.ErrLibrary) })
		}
	}
	b.retryWait = [2]bool{}
	for id, done := range b.reqs {
		delete(b.reqs, id)
		if done != nil {
			b.d.later(func() { done(cs.ErrLibrary, nil) })
		}
	}
	if !wasAttached {
		return
	}
	if b.round != nil {
		b.round = nil
		b.d.svc.SyncAbort()
	}
	b.d.log.Warn("detached from totemd")
	b.d.svc.Detached()
}

// closed runs after the reconnect loop ended for good.
func (b *busState) closed() {
	if b.sess != nil {
		b.d.step(func() { b.detached(b.sess) })
	}
}

// onMsg handles one message of session s.
func (b *busState) onMsg(s *session, m *ipcproto.Msg) {
	if b.sess != s {
		return
	}
	if m.Kind == ipcproto.KindAttached {
		b.onAttached(s, m)
		select { // totemd is (back) there: the keeper may hand the sockets over
		case b.d.attachedCh <- struct{}{}:
		default:
		}
		return
	}
	if !b.attached || b.handedOver {
		return
	}
	svc := b.d.svc
	switch m.Kind {
	case ipcproto.KindParked:
		b.parked = b.parking
	case ipcproto.KindConfChg:
		if c := m.Conf; c.Type == ipcproto.Regular {
			b.att.Ring, b.att.ServiceMembers, b.att.RingMembers = c.Ring, c.Members, c.RingMembers
		}
		svc.ConfChg(*m.Conf)
	case ipcproto.KindDeliver, ipcproto.KindDeliverBatch:
		for _, d := range m.Deliveries() {
			svc.Deliver(d.From, d.Payload, d.Swapped)
		}
	case ipcproto.KindMcastAck:
		b.onAck(m)
	case ipcproto.KindReopenLogs:
		b.d.reopenLogs()
	case ipcproto.KindSyncInit:
		b.round = &roundState{r: SyncRound{ID: m.ID, Kind: m.SyncKind, Ring: *m.Ring, Members: m.Members, Trans: m.Trans}}
		svc.SyncInit(b.round.r)
	case ipcproto.KindSyncProcess:
		if b.round == nil || b.round.r.ID != m.ID {
			b.d.log.Debug("sync process for an unknown round", "round", m.ID)
			return
		}
		b.round.r.Ring = *m.Ring
		b.round.processing = !b.round.doneSeen
		if svc.SyncProcess(b.round.r) {
			b.syncDone(b.round.r)
		}
	case ipcproto.KindSyncActivate:
		if b.round == nil || b.round.r.ID != m.ID {
			b.d.log.Debug("sync activate for an unknown round", "round", m.ID)
			return
		}
		r := b.round.r
		if m.Members != nil {
			r.Members = m.Members
		}
		b.round = nil
		svc.SyncActivate(r)
		b.d.notifyReady()
	case ipcproto.KindSyncAbort:
		if b.round != nil {
			b.round = nil
			svc.SyncAbort()
		}
	case ipcproto.KindRequest:
		st, payload := b.onRequest(m)
		b.send(&ipcproto.Msg{Kind: ipcproto.KindResponse, ID: m.ID, Service: m.Service, Status: st, Payload: payload})
	case ipcproto.KindResponse:
		done, ok := b.reqs[m.ID]
		if !ok {
			return
		}
		delete(b.reqs, m.ID)
		if done != nil {
			done(m.Status, m.Payload)
		}
	}
}

func (b *busState) onAttached(s *session, m *ipcproto.Msg) {
	b.conn, b.attached, b.nodeID = s.conn, true, m.NodeID
	a := Attachment{NodeID: m.NodeID, RingMembers: m.RingMembers, ServiceMembers: m.Members}
	if m.Ring != nil {
		a.Ring = *m.Ring
	}
	b.att = a
	b.d.log.Info("attached to totemd", "nodeid", m.NodeID, "ring", a.Ring.String(), "members", m.Members)
	b.d.svc.Attached(b.d.host, a)
	if b.d.mirror == b.cmap {
		b.cmap.trackAll()
		b.d.publishAllStats()
	}
}

// onRequest answers a request another service sent through totemd.
func (b *busState) onRequest(m *ipcproto.Msg) (cs.Error, []byte) {
	if m.Service == cmapService && b.d.mirror == b.cmap {
		if st, reply, ok := b.cmap.notification(m.Payload); ok {
			return st, reply
		}
	}
	if bs, ok := b.d.svc.(BusServer); ok {
		return bs.BusRequest(m.Service, m.Payload)
	}
	return cs.ErrNotSupported, nil
}

// send writes to the current session; a failed write closes it (the
// reader then reports the detach).
func (b *busState) send(m *ipcproto.Msg) bool {
	if b.conn == nil {
		return false
	}
	if b.parking {
		b.held = append(b.held, m)
		return true
	}
	if err := b.conn.Send(m); err != nil {
		b.d.log.Warn("bus send failed", "kind", m.Kind.String(), "error", err)
		b.conn.Close()
		return false
	}
	return true
}

// mcast queues a multicast (Host.Mcast).
func (b *busState) mcast(payload []byte, done func(cs.Error)) {
	if !b.attached {
		if done != nil {
			b.d.later(func() { done(cs.ErrLibrary) })
		}
		return
	}
	if rs := b.round; rs != nil && rs.processing {
		b.sq.push(payload, done)
	} else {
		b.q.push(payload, done)
	}
	b.schedulePump()
}

// schedulePump sends what the window allows once the current piece of
// owner work is done, so that every multicast queued by it (and by the
// callbacks it deferred) leaves with one write.
func (b *busState) schedulePump() {
	if b.pumpDue {
		return
	}
	b.pumpDue = true
	b.d.later(func() {
		b.pumpDue = false
		b.pump()
	})
}

// pump sends what the windows allow, sync stream first, with one write
// (ipcproto.Conn.SendBatch).
func (b *busState) pump() {
	if !b.attached || b.conn == nil || b.parking {
		return
	}
	out := b.out[:0]
	for _, sync := range [2]bool{true, false} {
		q := b.queue(sync)
		if b.retryWait[streamOf(sync)] {
			continue
		}
		for {
			it, ok := q.next()
			if !ok {
				break
			}
			out = append(out, &ipcproto.Msg{Kind: ipcproto.KindMcast, ID: it.id, Payload: it.payload, Sync: sync})
		}
	}
	b.out = out
	if len(out) == 0 {
		return
	}
	err := b.conn.SendBatch(out)
	clear(out)
	if err != nil {
		// The reader reports the detach; the items stay queued until then.
		b.d.log.Warn("bus send failed", "kind", ipcproto.KindMcast.String(), "error", err)
		b.conn.Close()
	}
}

// queue is the sync or the ordinary stream's queue.
func (b *busState) queue(sync bool) *mcastQueue {
	if sync {
		return b.sq
	}
	return b.q
}

// streamOf indexes retryWait: 0 ordinary, 1 sync.
func streamOf(sync bool) int {
	if sync {
		return 1
	}
	return 0
}

func (b *busState) onAck(m *ipcproto.Msg) {
	r, err := b.queue(m.Sync).ack(m.ID, m.Status)
	if err != nil {
		b.d.log.Error("bus protocol error; reattaching", "error", err, "sync", m.Sync)
		b.conn.Close()
		return
	}
	if it := r.resolved; it != nil {
		if r.status != cs.OK {
			b.d.log.Error("the ring refused a multicast", "status", r.status, "bytes", len(it.payload), "sync", m.Sync)
		}
		if it.done != nil {
			done, st := it.done, r.status
			b.d.later(func() { done(st) })
		}
		b.checkSyncDone()
	}
	if r.rewound {
		i := streamOf(m.Sync)
		b.retryWait[i] = true
		s := b.sess
		b.d.host.After(mcastRetry, func() {
			if b.sess == s {
				b.retryWait[i] = false
				b.pump()
			}
		})
		return
	}
	b.schedulePump()
}

// syncDone records that the service finished SyncProcess for r; totemd
// hears it once every multicast queued before now was accepted.
func (b *busState) syncDone(r SyncRound) {
	if b.round == nil || b.round.r.ID != r.ID || b.round.doneSeen {
		return
	}
	b.round.doneSeen, b.round.processing, b.round.barrier = true, false, b.sq.pushed
	b.checkSyncDone()
}

func (b *busState) checkSyncDone() {
	rs := b.round
	if rs == nil || !rs.doneSeen || rs.doneSent || b.sq.resolved < rs.barrier {
		return
	}
	rs.doneSent = true
	ring := rs.r.Ring
	b.send(&ipcproto.Msg{Kind: ipcproto.KindSyncDone, ID: rs.r.ID, Ring: &ring})
}

// request sends a request to another local service (Host.Request).
func (b *busState) request(service uint16, payload []byte, done func(cs.Error, []byte)) {
	if !b.attached {
		if done != nil {
			b.d.later(func() { done(cs.ErrLibrary, nil) })
		}
		return
	}
	b.reqSeq++
	b.reqs[b.reqSeq] = done
	b.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: b.reqSeq, Service: service, Payload: payload})
}

// drain waits (running owner work) until the multicast queue is empty or
// timeout passed, then detaches cleanly.
func (b *busState) drain(timeout time.Duration, ops chan func()) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for b.attached && b.q.backlog()+b.sq.backlog() > 0 {
		select {
		case f := <-ops:
			b.d.step(f)
		case <-deadline.C:
			b.d.log.Warn("stopping with multicasts not yet accepted by the ring", "count", b.q.backlog()+b.sq.backlog())
			return
		}
	}
	if b.attached {
		b.send(&ipcproto.Msg{Kind: ipcproto.KindDetach})
	}
}

// park asks totemd to hold the session's frames (handover.go): nothing
// is sent from here on until unpark.
func (b *busState) park() bool {
	if b.conn == nil || b.parking {
		return false
	}
	if err := b.conn.Send(&ipcproto.Msg{Kind: ipcproto.KindPark}); err != nil {
		b.d.log.Warn("bus send failed", "kind", ipcproto.KindPark.String(), "error", err)
		b.conn.Close()
		return false
	}
	b.parking, b.parked = true, false
	return true
}

// unpark lets totemd write again and sends what waited meanwhile, in
// order; a no-op unless parking.
func (b *busState) unpark() {
	if !b.parking || b.handedOver {
		return
	}
	b.parking, b.parked = false, false
	held := b.held
	b.held = nil
	if !b.send(&ipcproto.Msg{Kind: ipcproto.KindUnpark}) {
		return
	}
	for _, m := range held {
		if !b.send(m) {
			return
		}
	}
	b.schedulePump()
}
