package stack

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/totemd/internal/pload"
)

// The pload service (corosync's service 4, package pload) is part of the
// stack when Config.Pload is set: its START and MCAST messages never
// leave totemd, so a run costs the ring what it costs corosync (which
// runs pload in its own process) and not a bus hop on each side of every
// message. The driver feeds it the pload.* cmap keys (PloadConfigured)
// and carries out OutPload: log lines, deleting pload.start once the
// START is queued, and writing a run's result to runtime.pload.*.
//
// A daemon attaching as pload is refused by the bus (node passes the id
// to bus.Listen). A run fills whatever room srp's queue has left at
// each token visit, after the stack's own messages and the attached
// daemons' waiting multicasts (so those are never starved by it), and
// only while the ring is synced.

// PloadOut is what the pload service asks of the driver.
type PloadOut struct {
	Logs []pload.Log
	// StartQueued: the START of a run started here is queued for the
	// ring; pload.start is to be deleted (so that a key left set never
	// starts a run again after a restart).
	StartQueued bool
	// Result is this node's result of a run that just ended.
	Result *pload.Result
}

// PloadConfiguredEvent carries the pload.* keys after a change below
// pload. (or their first reading).
func PloadConfiguredEvent(s pload.Settings) Event {
	return Event{Kind: PloadConfigured, Pload: s}
}

// Ploading says whether the pload service is part of the stack.
func (s *Stack) Ploading() bool { return s.pload != nil }

// stepPload handles PloadConfigured.
func (s *Stack) stepPload(ev Event) {
	if s.pload == nil {
		s.log.Debug("pload keys ignored: the pload service is not enabled")
		return
	}
	out := s.pload.Configured(ev.Pload)
	po := &PloadOut{Logs: out.Logs}
	if out.Start != nil {
		s.outboxA = append(s.outboxA, out.Start)
		s.pushOutbox()
		po.StartQueued = true
	}
	s.ploadOut(po)
}

// deliverPload hands a pload ring message to the core.
func (s *Stack) deliverPload(from uint32, body []byte, swapped bool) {
	out, err := s.pload.Deliver(from, body, swapped, int64(s.now))
	if err != nil {
		s.log.Warn("pload message dropped", "error", err)
		return
	}
	if len(out.Logs) > 0 || out.Result != nil {
		s.ploadOut(&PloadOut{Logs: out.Logs, Result: out.Result})
	}
}

// ploadFill queues this node's run's MCASTs while srp's queue takes them,
// up to twice max_messages waiting. Called on each token visit, after the
// other services' messages.
//
// The depth: a token visit sends at most max_messages, so twice that
// keeps every visit full, and a message another service queues after
// the fill waits behind at most two visits' worth of pload. Filling the
// whole queue (hundreds of frames) made a cfg request queued just after
// wait out every one of them: on a 29-node ring of the whole-node
// simulator a kill request took 1.1 s to be delivered (seed 72002912).
func (s *Stack) ploadFill() {
	if s.pload == nil || !s.pload.Running() || !s.synced || len(s.outboxA) > 0 || len(s.waiting) > 0 {
		return
	}
	depth := 2 * s.srp.MaxMessages()
	for s.srp.Avail() > 0 && s.srp.Queued() < depth {
		m, ok := s.pload.NextSend()
		if !ok {
			return
		}
		st, full := s.pack(m)
		if full {
			s.pload.Unsend()
			return
		}
		if st != cs.OK {
			// Only a message over pg's limit is refused, and the core
			// caps sizes below it: an invariant, not an input.
			panic(fmt.Sprintf("stack: pload message of %d bytes refused: %v", len(m), st))
		}
	}
}

func (s *Stack) ploadOut(po *PloadOut) {
	s.outs = append(s.outs, Out{Kind: OutPload, Pload: po})
}

// PloadProgress is this node's pload run: messages sent and counted, the
// run's count, and whether it is still running (the simulator's checks).
func (s *Stack) PloadProgress() (sent, delivered, wanted uint32, running bool) {
	if s.pload == nil {
		return 0, 0, 0, false
	}
	sent, delivered, wanted = s.pload.Progress()
	return sent, delivered, wanted, s.pload.Running()
}
