package qbipc

import (
	"errors"
	"fmt"
	"time"
)

// SendEvent sends an event (24-byte header first; the size field is set
// from len(msg)) and returns at once: written into the client's channel if
// nothing waits before it and there is room, else queued; the queue owns
// msg from then on (SendEventCopy does not keep it). Events are delivered
// in order and never dropped: a client that stops reading them is
// disconnected at the per-connection limit, when the shared event budget
// needs its bytes, or after the stall timeout (budget.go), and SendEvent
// then returns an error wrapping ErrClosed.
func (c *Conn) SendEvent(msg []byte) error {
	return c.sendEvent(msg, false)
}

// SendEventCopy is SendEvent for a caller that reuses msg: it does not
// keep msg once it returns (an event that has to wait in the queue is
// copied; one that goes straight into the client's channel is not).
func (c *Conn) SendEventCopy(msg []byte) error {
	return c.sendEvent(msg, true)
}

// sendEvent is SendEvent. While nothing is queued, the event goes
// straight into the client's channel in the caller's goroutine (no
// hand-off, no queue entry); the event goroutine moves only the events
// that found the channel full, and writes the SHM notification bytes
// (srvTransport.tryEvent).
// The checks are the same either way: an event is accounted against both
// bounds as if it were queued, and released once it left.
func (c *Conn) sendEvent(msg []byte, copyQueued bool) error {
	if err := c.checkOutgoing(msg); err != nil {
		return err
	}
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	budget := c.srv.cfg.EventBudget
	cost := eventCost(msg)
	if copyQueued {
		cost = eventCostLen(len(msg)) // what the queued copy would hold
	}
	if err := budget.reserveFor(c, cost); err != nil {
		return err
	}
	c.evMu.Lock()
	if c.ctx.Err() != nil { // shutdown has not cleared the queue yet, or already has
		c.evMu.Unlock()
		budget.release(cost)
		return ErrClosed
	}
	if limit := int64(c.srv.cfg.EventQueueBytes); c.evBytes+cost > limit {
		queued := c.evBytes
		c.evMu.Unlock()
		budget.release(cost)
		c.drop("it is not reading its events: its queue reached the per-connection limit",
			"queued_bytes", queued, "limit_bytes", limit)
		return fmt.Errorf("event queue of %d bytes full: %w", queued, ErrClosed)
	}
	if c.evDirect && len(c.evQueue) == 0 {
		now := monoNow()
		owed, err := c.t.tryEvent(msg, now)
		if err == nil {
			c.stats.events.Add(1)
			c.evWritten.Store(now)
			c.evMu.Unlock()
			budget.release(cost)
			if owed { // the event goroutine retries the notification
				c.wakeEvents()
			}
			return nil
		}
		if !errors.Is(err, errFull) {
			c.evMu.Unlock()
			budget.release(cost)
			if errors.Is(err, ErrClosed) {
				return ErrClosed
			}
			if c.ctx.Err() == nil {
				c.log.Warn("dropping client: event delivery failed", "err", err)
				c.Close()
			}
			return fmt.Errorf("event delivery: %v: %w", err, ErrClosed)
		}
	}
	if copyQueued {
		msg = append(make([]byte, 0, len(msg)), msg...)
	}
	if len(c.evQueue) == 0 {
		c.evSince.Store(time.Now().UnixNano())
	}
	c.evQueue = append(c.evQueue, msg)
	c.evBytes += cost
	c.evAcct.Store(c.evBytes)
	c.evMu.Unlock()
	c.wakeEvents()
	return nil
}

func (c *Conn) wakeEvents() {
	select {
	case c.evWake <- struct{}{}:
	default:
	}
}

// monoEpoch anchors monoNow.
var monoEpoch = time.Now()

// monoNow is a monotonic clock in nanoseconds.
func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// eventLoop moves queued events into the transport, retrying while the
// client's channel is full.
func (c *Conn) eventLoop() {
	// The client's reads are invisible to us: poll for room, backing off
	// while it does not read.
	const minRetry, maxRetry = time.Millisecond, 100 * time.Millisecond
	retry := minRetry
	lastProgress := monoNow()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	c.evMu.Lock()
	c.evDirect = true // from now on SendEvent may write itself (sendEvent)
	c.evMu.Unlock()
	for {
		progressed, pending, err := c.pushEvents()
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("dropping client: event delivery failed", "err", err)
				c.Close()
			}
			return
		}
		now := monoNow()
		// An event SendEvent wrote itself was progress too, when it was written.
		lastProgress = max(lastProgress, c.evWritten.Load())
		if progressed || !pending {
			lastProgress, retry = now, minRetry
		} else if stalled := time.Duration(now - lastProgress); stalled > c.srv.cfg.EventStallTimeout {
			c.drop("it has not read its events", "for", stalled.String(),
				"queued_bytes", c.evAcct.Load())
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
			c.evBytes -= eventCost(ev)
			c.evAcct.Store(c.evBytes)
			if len(c.evQueue) == 0 {
				c.evSince.Store(0)
			} else {
				c.evSince.Store(time.Now().UnixNano()) // the client made room: it reads
			}
			c.srv.cfg.EventBudget.release(eventCost(ev))
		}
		c.stats.events.Add(1) // with the pop: Events+EventsQueued stays exact
		c.evMu.Unlock()
	}
	owed, err := c.t.flush()
	return progressed, pending || owed, err
}
