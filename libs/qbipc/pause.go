package qbipc

import (
	"context"
	"errors"
	"fmt"
)

// Pause stops accepting new clients (the listening sockets are closed as
// by Close, but a kept filesystem socket path stays, as Close does for
// kept servers) and stops reading requests: each connection's request
// loop stops before reading its next request; a Handler.Request running
// now finishes first, and Pause returns once none runs (or ctx ends:
// error). Requests the clients send meanwhile stay unread in their
// channels (for a successor). Events (Conn.SendEvent) and Respond keep
// working on a paused server. A paused server is then either handed over
// (Handover) or closed (Close: clients disconnected as usual,
// Handler.Disconnect called for each); there is no resuming.
//
// A client whose connection was accepted before the listeners closed
// finishes its handshake (Handler.Connect included, within
// Config.HandshakeTimeout) and is paused like the others; clients that
// connect later wait in the kept sockets' backlog for the successor.
func (s *Server) Pause(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("qbipc: Pause of a closed server")
	}
	first := !s.paused
	s.paused = true
	for _, c := range s.conns {
		c.pause() // the ones registered from now on are paused by register
	}
	s.mu.Unlock()
	if first {
		s.closeListeners()
	}
	if err := s.quiesce(ctx); err != nil {
		return fmt.Errorf("qbipc: pause libqb service %q: %w", s.cfg.Service, err)
	}
	return nil
}

// quiesce waits until no accept loop runs, no handshake is under way, and
// every connection's request loop has stopped for the pause (or ended).
func (s *Server) quiesce(ctx context.Context) error {
	for {
		s.mu.Lock()
		busy, changed := s.accepting+s.handshakes, s.changed
		s.mu.Unlock()
		if busy == 0 {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d accept loops and handshakes: %w", busy, ctx.Err())
		}
	}
	s.mu.Lock()
	var running []*Conn
	for _, c := range s.conns {
		if c.started { // an adopted one Serve has not started reads nothing
			running = append(running, c)
		}
	}
	s.mu.Unlock()
	for _, c := range running {
		select {
		case <-c.parkedCh:
		case <-c.done:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the request of connection %d: %w", c.id, ctx.Err())
		}
	}
	return nil
}

// pause stops c's request loop before its next request (waitTurn), and
// interrupts a read of the transport it may be blocked in now.
func (c *Conn) pause() {
	c.pauseOnce.Do(func() {
		close(c.pauseCh)
		if c.t != nil {
			c.t.interrupt()
		}
	})
}

func (c *Conn) pausing() bool {
	select {
	case <-c.pauseCh:
		return true
	default:
		return false
	}
}
