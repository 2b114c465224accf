package qbipc

import (
	"errors"
	"fmt"
	"time"
)

// SendEvent queues an event (24-byte header first; the size field is set
// from len(msg)). Events are delivered in order and never dropped; a
// client that stops reading them for too long is disconnected.
func (c *Conn) SendEvent(msg []byte) error {
	if err := c.checkOutgoing(msg); err != nil {
		return err
	}
	c.evMu.Lock()
	if c.ctx.Err() != nil {
		c.evMu.Unlock()
		return ErrClosed
	}
	if c.evBytes+len(msg) > c.srv.cfg.EventQueueBytes {
		c.evMu.Unlock()
		c.log.Warn("dropping client: event queue over its limit", "queued_bytes", c.evBytes)
		c.Close()
		return fmt.Errorf("event queue of %d bytes full: %w", c.evBytes, ErrClosed)
	}
	c.evQueue = append(c.evQueue, msg)
	c.evBytes += len(msg)
	c.evMu.Unlock()
	select {
	case c.evWake <- struct{}{}:
	default:
	}
	return nil
}

// eventLoop moves queued events into the transport, retrying while the
// client's channel is full.
func (c *Conn) eventLoop() {
	// The client's reads are invisible to us: poll for room, backing off
	// while it does not read.
	const minRetry, maxRetry = time.Millisecond, 100 * time.Millisecond
	retry := minRetry
	lastProgress := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		progressed, pending, err := c.pushEvents()
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("dropping client: event delivery failed", "err", err)
				c.Close()
			}
			return
		}
		now := time.Now()
		if progressed || !pending {
			lastProgress, retry = now, minRetry
		} else if now.Sub(lastProgress) > c.srv.cfg.EventStallTimeout {
			c.log.Warn("dropping client: it has not read its events", "for", now.Sub(lastProgress))
			c.Close()
			return
		}
		var tc <-chan time.Time
		if pending {
			timer.Reset(retry)
			tc = timer.C
			retry = min(2*retry, maxRetry)
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.evWake:
		case <-tc:
		}
	}
}

// pushEvents hands queued events to the transport until it is full.
func (c *Conn) pushEvents() (progressed, pending bool, err error) {
	for {
		c.evMu.Lock()
		if len(c.evQueue) == 0 {
			c.evMu.Unlock()
			break
		}
		ev := c.evQueue[0]
		c.evMu.Unlock()
		if c.ctx.Err() != nil {
			return progressed, false, ErrClosed
		}
		err := c.t.event(ev)
		if errors.Is(err, errFull) {
			c.stats.sendRetries.Add(1)
			pending = true
			break
		}
		if err != nil {
			return progressed, false, err
		}
		progressed = true
		c.evMu.Lock()
		if len(c.evQueue) > 0 { // else shutdown emptied it meanwhile
			c.evQueue[0] = nil
			c.evQueue = c.evQueue[1:]
			c.evBytes -= len(ev)
		}
		c.stats.events.Add(1) // with the pop: Events+EventsQueued stays exact
		c.evMu.Unlock()
	}
	owed, err := c.t.flush()
	return progressed, pending || owed, err
}
