package qbipc

import (
	"errors"
	"fmt"
	"time"
)

// Adopted returns the connections Listen took over from Config.Adopt, for
// the handler to restore its per-connection state (Conn.SetValue) before
// Serve starts them. A connection that ends is not removed from it.
func (s *Server) Adopted() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Conn(nil), s.adopted...)
}

// checkAdopt refuses what no successor can serve: connections of another
// service, IDs given twice, Parked already closed.
func (s *Server) checkAdopt(ps []*Parked) error {
	seen := map[uint64]bool{}
	for i, p := range ps {
		switch {
		case p == nil:
			return fmt.Errorf("qbipc: Config.Adopt[%d] is nil", i)
		case p.files == nil:
			return fmt.Errorf("qbipc: adopt connection %d: its Parked was closed or adopted already", p.ID)
		case p.service != s.cfg.Service:
			return fmt.Errorf("qbipc: adopt connection %d: it is a connection of libqb service %q, not %q", p.ID, p.service, s.cfg.Service)
		case p.ID == 0 || seen[p.ID]:
			return fmt.Errorf("qbipc: adopt connection %d: ID zero or given twice", p.ID)
		}
		seen[p.ID] = true
	}
	return nil
}

// adopt takes over the checked connections. One that cannot be taken over
// is ended (its client sees the hang-up, its files are removed); the
// others do not suffer for it: its client may have truncated its files.
func (s *Server) adopt(ps []*Parked) {
	for _, p := range ps {
		s.nextID = max(s.nextID, p.ID)
		c, err := s.adoptOne(p)
		if err != nil {
			s.log.Warn("cannot take over a handed-over connection; ending it",
				"conn", p.ID, "pid", p.Creds.PID, "uid", p.Creds.UID, "err", err)
			continue
		}
		s.conns[c.id] = c
		s.adopted = append(s.adopted, c)
		c.log.Debug("client taken over", "transport", c.transport, "queued_events", len(c.evQueue))
	}
}

// adoptOne makes a Conn of p, which it consumes.
func (s *Server) adoptOne(p *Parked) (*Conn, error) {
	defer p.Close() // what the connection keeps, it duplicated or mapped
	if len(p.files) != filesFor(p.Transport) {
		p.end()
		return nil, fmt.Errorf("%d files for the %v transport", len(p.files), p.Transport)
	}
	setup, err := unixConnOf(p.files[0], "setup socket")
	if err != nil {
		p.end()
		return nil, err
	}
	c := newConn(s, setup, p.Creds, p.MaxMsg, p.ID, p.Transport)
	var t srvTransport
	switch p.Transport {
	case SHM:
		t, err = adoptShm(c, p.tr, p.files[1:])
	case Socket:
		t, err = adoptSock(c, p.tr, p.files[1:])
	default:
		err = errors.New("unknown transport")
	}
	if err == nil {
		c.t = t
		err = c.restore(p)
	}
	if err != nil {
		c.shutdown() // closes the setup socket: with p's copy gone, the client sees the end
		p.end()
		return nil, err
	}
	return c, nil
}

// restore carries p's flow control, counters and queued events over to c.
func (c *Conn) restore(p *Parked) error {
	fc := p.Stats.FlowControl
	if fc < 0 || fc > 2 {
		return fmt.Errorf("flow control level %d", fc)
	}
	c.fc = fc
	if err := c.t.setFlowControl(fc); err != nil {
		return fmt.Errorf("set flow control: %w", err)
	}
	c.stats.requests.Store(p.Stats.Requests)
	c.stats.responses.Store(p.Stats.Responses)
	c.stats.events.Store(p.Stats.Events)
	c.stats.sendRetries.Store(p.Stats.SendRetries)
	c.stats.fcCount.Store(p.Stats.FlowControlCount)
	var cost int64
	for _, ev := range p.events {
		cost += eventCost(ev)
	}
	c.evQueue, c.evBytes = p.events, cost
	c.evAcct.Store(cost)
	if len(p.events) > 0 {
		c.evSince.Store(time.Now().UnixNano())
	}
	p.events = nil
	c.srv.cfg.EventBudget.charge(cost) // released as they go out, or by shutdown
	return nil
}

func filesFor(tr Transport) int {
	if tr == Socket {
		return sockFiles
	}
	return shmFiles
}
