package vq

import (
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
)

// SyncInit is votequorum_sync_init for the ring being synced: members in
// totem order (the transitional list is not used by votequorum).
func (c *Core) SyncInit(members []uint32, ring RingID) []Action {
	c.syncInProgress = true
	c.syncNodeinfoSent = false
	c.syncWaitPoll = false
	c.syncProcessWaiting = false
	if len(members) > 1 {
		c.us.flags &^= FlagFirst
	}
	left := false
	for _, id := range c.members {
		if !slices.Contains(members, id) {
			left = true
			if n := c.find(id); n != nil {
				n.state = Dead
			}
		}
	}
	if c.lms {
		if (len(members) >= int(c.quorum) && left) ||
			(len(members) <= int(c.quorum) && c.atb != ATBNone && c.memberHas(c.lowest)) {
			c.lmsTimer = timer{set: true, at: c.now + c.lmsWindow}
		}
	}
	c.prevMembers = c.members
	c.members = slices.Clone(members)
	c.ring = ring
	if c.us.flags&FlagQdeviceRegistered != 0 && c.us.flags&FlagQdeviceAlive != 0 {
		c.qdevTimer = timer{set: true, at: c.now + c.qdevSyncTimeout}
		c.syncWaitPoll = true
		c.logf(hclog.Info, "waiting for quorum device %s poll (but maximum for %d ms)", c.qdevName, c.qdevSyncTimeout/time.Millisecond)
	}
	c.check()
	return c.take()
}

// SyncProcess is votequorum_sync_process: the first call of a round
// multicasts NODEINFO(us), NODEINFO(0) (in that order: addendum §1.1) and
// QDEVICE_REG when a device name is known, and notifies trackers of the
// node list. It reports false while the registered local device has not
// polled with the new ring (nor timed out); SyncReady follows later.
func (c *Core) SyncProcess() (bool, []Action) {
	if !c.syncNodeinfoSent {
		c.sendNodeInfo(c.id)
		c.sendNodeInfo(0)
		if c.qdevName != "" {
			c.mcast(QdeviceReg{Operation: OpRegister, Name: c.qdevName})
		}
		c.logf(hclog.Debug, "Sending nodelist callback. ring_id = %x.%x", c.ring.NodeID, c.ring.Seq)
		c.emit(NodelistNotify{Ring: c.ring, Members: slices.Clone(c.members)})
		c.syncNodeinfoSent = true
	}
	done := !(c.us.flags&FlagQdeviceRegistered != 0 && c.syncWaitPoll)
	c.syncProcessWaiting = !done
	return done, c.take()
}

// SyncActivate is votequorum_sync_activate: recalculate, then always tell
// the quorum service and the trackers.
func (c *Core) SyncActivate() []Action {
	c.recalculate(false, false)
	c.notifyQuorum()
	c.syncInProgress = false
	c.syncProcessWaiting = false
	c.check()
	return c.take()
}

// SyncAbort is votequorum_sync_abort, which does nothing in 3.1.7.
func (c *Core) SyncAbort() []Action { return nil }

// NextDeadline is the earliest armed timer, if any.
func (c *Core) NextDeadline() (time.Duration, bool) {
	var at time.Duration
	ok := false
	for _, t := range []timer{c.lmsTimer, c.qdevTimer} {
		if t.set && (!ok || t.at < at) {
			at, ok = t.at, true
		}
	}
	return at, ok
}

// Advance moves the virtual clock to now (never backwards) and fires the
// timers that expired, earliest first.
func (c *Core) Advance(now time.Duration) []Action {
	if now < c.now {
		now = c.now
	}
	for {
		at, ok := c.NextDeadline()
		if !ok || at > now {
			break
		}
		c.now = at
		if c.lmsTimer.set && c.lmsTimer.at == at {
			c.lmsTimer.set = false
			if c.quorate {
				c.recalculate(true, true)
			}
			continue
		}
		c.qdevTimer.set = false
		c.qdeviceTimeout()
	}
	c.now = now
	c.check()
	return c.take()
}

// qdeviceTimeout is qdevice_timer_fn.
func (c *Core) qdeviceTimeout() {
	if c.us.flags&FlagQdeviceAlive == 0 {
		return
	}
	c.us.flags &^= FlagQdeviceAlive | FlagQdeviceCastVote
	c.logf(hclog.Info, "lost contact with quorum device %s", c.qdevName)
	c.sendNodeInfo(c.id)
	c.endSyncWait()
}

func (c *Core) endSyncWait() {
	c.syncWaitPoll = false
	if c.syncProcessWaiting {
		c.syncProcessWaiting = false
		c.emit(SyncReady{})
	}
}
