package srp

// timerID names one of the node's timers. The order is the tie-break when
// several expire at the same instant, which keeps Tick deterministic.
type timerID uint8

const (
	timerTokenLoss timerID = iota
	timerTokenRetransmit
	timerHold
	timerMerge
	timerJoin
	timerConsensus
	timerHeartbeat
	timerPause
	timerTokenWarning
	numTimers
)

// resetTokenTimeout arms the token-loss timer and, when configured, the
// token warning that fires at a fraction of it.
func (n *Node) resetTokenTimeout() {
	n.tm.start(timerTokenLoss, n.now+n.cfg.Token)
	if n.cfg.TokenWarning > 0 {
		n.tm.start(timerTokenWarning, n.now+n.cfg.TokenWarning)
	}
}

// resetPauseTimeout stamps now as a moment the process was running and
// re-arms the pause timer one token/5 ahead (its period). handleJoin
// takes a join handled more than token/2 after the stamp for one that
// queued up while the process was paused (corosync's pause_flush).
//
// Deviation, timing only: corosync's ring installation re-arms the timer
// without stamping, so two installations within a period leave a stamp
// that ages past token/2 while the process runs all along, and a join
// arriving then — typically a member's leave — was dropped; the stop
// looked like a crash, noticed only by the token loss. corosync escapes
// that because pause_flush drops a join only when the socket still held
// datagrams behind it; a pure core cannot see the socket, so instead the
// stamp is never older than the timer's own last arming: with timers
// served on time a join is dropped only after a real pause.
func (n *Node) resetPauseTimeout() {
	n.pauseStamp = n.now
	n.tm.start(timerPause, n.now+n.cfg.Token/5)
}

func (n *Node) cancelTokenTimeout() {
	n.tm.stop(timerTokenLoss)
	n.tm.stop(timerTokenWarning)
}

// timers holds one optional deadline per timerID.
type timers struct {
	at    [numTimers]Time
	armed [numTimers]bool
}

func (t *timers) start(id timerID, at Time) { t.at[id], t.armed[id] = at, true }
func (t *timers) stop(id timerID)           { t.armed[id] = false }
func (t *timers) running(id timerID) bool   { return t.armed[id] }

// next returns the earliest armed timer.
func (t *timers) next() (timerID, Time, bool) {
	best, ok := timerID(0), false
	for id := timerID(0); id < numTimers; id++ {
		if t.armed[id] && (!ok || t.at[id] < t.at[best]) {
			best, ok = id, true
		}
	}
	return best, t.at[best], ok
}

// delayedSend is a join held back by the send_join random delay.
type delayedSend struct {
	at    Time
	frame []byte
}
