package qbipc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
)

// Parked is one handed-over connection: what a successor process needs to
// serve it (Config.Adopt), in this process or, through Encode and
// DecodeParked, in another.
type Parked struct {
	ID        uint64
	Creds     Creds
	MaxMsg    int
	Transport Transport
	// Stats are the counters carried over. FlowControl is the level the
	// successor keeps; EventsQueued and EventsQueuedBytes describe the
	// queued events the Parked carries.
	Stats ConnStats

	service string
	tr      parkedTransport
	events  [][]byte   // queued, not yet written to the client's channel
	files   []*os.File // setup socket first; shmFiles or sockFiles of them
}

// Close closes a Parked's descriptors (a handover that did not happen, or
// this process's copies once they were sent). Its clients see their
// connection end unless a successor holds the same sockets. The files in
// /dev/shm stay, as the successor may serve them; when none does, the
// client's libqb removes them once it sees the server gone, as does
// RemoveStale. Idempotent.
func (p *Parked) Close() {
	closeFiles(p.files)
	p.files, p.events = nil, nil
}

// end closes p and removes its files: nobody will serve it.
func (p *Parked) end() {
	if p == nil || p.files == nil {
		return
	}
	p.Close()
	removeConnFiles(p.tr.dir, p.service, p.Transport)
}

// Handover ends a paused server without disconnecting its clients: it
// returns every connection's state, with the descriptors a successor
// process needs, and releases the rest without the clients noticing (shm
// rings unmapped but not unlinked, nothing closed that the client would
// see as a hang-up, no graceful-close signal). Handler.Disconnect is not
// called for handed-over connections. Serve returns afterwards (nil).
// Events queued for a connection and not yet written to its channel are
// part of its Parked state.
//
// If Pause did not complete (its ctx ended), Handover first waits, without
// a bound, for the requests it was waiting for. A response the service
// sends later (Conn.Respond from another goroutine) fails with ErrClosed:
// the service answers every request before it hands over. A connection
// that cannot be handed over (its client replaced a ring file, or hung up
// meanwhile) is closed as by Close, Disconnect included, and logged. The
// Parked are ordered by ID.
func (s *Server) Handover() ([]*Parked, error) {
	s.mu.Lock()
	closed, paused := s.closed, s.paused
	s.mu.Unlock()
	if closed {
		return nil, errors.New("qbipc: Handover of a closed server")
	}
	if !paused {
		return nil, errors.New("qbipc: Handover of a server that was not paused")
	}
	if err := s.quiesce(context.Background()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("qbipc: server closed during Handover")
	}
	s.closed = true // no Close, nothing registers, Serve starts nothing
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	slices.SortFunc(conns, func(a, b *Conn) int { return cmp.Compare(a.id, b.id) })
	var out []*Parked
	for _, c := range conns {
		p, err := c.handover()
		if err != nil {
			c.log.Warn("cannot hand the connection over; disconnecting it", "err", err)
			continue
		}
		if p != nil {
			out = append(out, p)
		}
	}
	close(s.ended)
	s.log.Info("connections handed over", "count", len(out))
	return out, nil
}

// handover takes c from its loops and parks it; nil if c was ending on
// its own (its Disconnect runs as usual).
func (c *Conn) handover() (*Parked, error) {
	claimed := false
	c.closeOnce.Do(func() {
		claimed = true
		c.handedOver.Store(true) // its request loop leaves without Disconnect
		c.cancel()               // SendEvent and Respond return ErrClosed from now on
	})
	if !claimed {
		return nil, nil
	}
	c.loops.Wait()
	p, err := c.park()
	if err != nil {
		c.graceful.Store(true)
		c.release()
		c.srv.h.Disconnect(c)
		c.srv.unregister(c)
		close(c.done)
		return nil, fmt.Errorf("connection %d: %w", c.id, err)
	}
	c.srv.unregister(c)
	close(c.done)
	c.log.Debug("client handed over", "queued_events", len(p.events))
	return p, nil
}

// park collects c's state once its loops have stopped, and releases what
// this process holds. On error nothing is released.
func (c *Conn) park() (*Parked, error) {
	stats := c.Stats()
	c.respMu.Lock()
	defer c.respMu.Unlock()
	setup, err := dupFile(c.setup, "qb-setup")
	if err != nil {
		return nil, err
	}
	c.fcMu.Lock() // the level in stats is the one the transport holds
	stats.FlowControl = c.fc
	tr, files, err := c.t.handover()
	c.fcMu.Unlock()
	if err != nil {
		setup.Close()
		return nil, err
	}
	c.evMu.Lock()
	events, queued := c.evQueue, c.evBytes
	if events == nil {
		events = [][]byte{} // as after a queue that emptied (SendEvent wrote its events itself)
	}
	c.evQueue, c.evBytes = nil, 0
	c.evAcct.Store(0)
	c.evSince.Store(0)
	c.evMu.Unlock()
	c.srv.cfg.EventBudget.release(queued)
	c.srv.cfg.EventBudget.leave(c)
	c.setup.Close() // the Parked's descriptor keeps the socket open
	stats.EventsQueued, stats.EventsQueuedBytes = len(events), queued
	return &Parked{
		ID: c.id, Creds: c.creds, MaxMsg: c.maxMsg, Transport: c.transport, Stats: stats,
		service: c.srv.cfg.Service, tr: tr, events: events,
		files: append([]*os.File{setup}, files...),
	}, nil
}
