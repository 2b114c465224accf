package qbipc

import "sync/atomic"

// ConnStats are one connection's counters, for corosync's
// stats.ipcs.service<S>.<pid>.<conn>.* keys.
type ConnStats struct {
	Requests          uint64 // requests received
	Responses         uint64 // responses sent
	Events            uint64 // events handed to the transport
	EventsQueued      int    // events waiting for room now
	EventsQueuedBytes int64  // their accounted bytes (budget.go)
	SendRetries       uint64 // event deliveries retried because the client's channel was full
	FlowControl       int32  // current flow-control level
	FlowControlCount  uint64 // times flow control was switched on
}

type connCounters struct {
	requests, responses, events, sendRetries, fcCount atomic.Uint64
}

// Stats returns a snapshot of the connection's counters.
func (c *Conn) Stats() ConnStats {
	c.evMu.Lock()
	queued, queuedBytes := len(c.evQueue), c.evBytes
	events := c.stats.events.Load()
	c.evMu.Unlock()
	c.fcMu.Lock()
	fc := c.fc
	c.fcMu.Unlock()
	return ConnStats{
		Requests:          c.stats.requests.Load(),
		Responses:         c.stats.responses.Load(),
		Events:            events,
		EventsQueued:      queued,
		EventsQueuedBytes: queuedBytes,
		SendRetries:       c.stats.sendRetries.Load(),
		FlowControl:       fc,
		FlowControlCount:  c.stats.fcCount.Load(),
	}
}
