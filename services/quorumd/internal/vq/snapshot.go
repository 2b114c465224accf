package vq

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/snapcodec"
)

// A core hands its state to the next quorumd (libs/ipcproto's doc,
// "Handing a daemon over to its successor"): once Quiet, Snapshot encodes
// everything; Restore rebuilds the core in the successor, which goes on
// from there as the original would have.
//
// Time: the snapshot holds the timers as the time left to their deadline,
// not as points on the predecessor's clock; Restore puts them on the
// successor's clock at now. A last_man_standing window or qdevice poll
// timeout due in 2 s is due 2 s after Restore: the handover itself (during
// which no client, the quorum device included, can be served) does not
// count.

// snapshotMagic starts every snapshot; snapshotVersion changes with the
// layout or meaning of what follows.
const (
	snapshotMagic   = "needle-votequorum-core\n"
	snapshotVersion = 1
)

// maxSnapList bounds the snapshot's id lists (members, the previous
// members, auto_tie_breaker_node's list).
const maxSnapList = 4 * maxRecords

// maxSnapDuration bounds every duration: the configuration gives them in
// 32-bit milliseconds.
const maxSnapDuration = time.Duration(1<<32-1) * time.Millisecond

// Unsent tells the core that one of its multicasts will not come back:
// the ring refused it. (A refused QDEVICE_REG also needs
// QdeviceRegisterFailed.)
func (c *Core) Unsent() {
	if c.sent > 0 {
		c.sent--
	}
}

// ForgetSent tells the core that none of its multicasts on their way will
// come back: the driver lost its ring (detached from totemd). One that
// comes back after all counts for nothing.
func (c *Core) ForgetSent() { c.sent = 0 }

// Quiet reports whether the core's whole state can be handed over now:
// no sync round in progress, none of its multicasts on their way (sent
// and neither delivered back nor reported lost), no quorum device
// registration awaiting its QDEVICE_REG (its answer is owed to a client).
// If not, why.
func (c *Core) Quiet() (bool, string) {
	switch {
	case c.syncInProgress:
		return false, fmt.Sprintf("votequorum sync round of ring %x.%x in progress", c.ring.NodeID, c.ring.Seq)
	case c.sent > 0:
		return false, fmt.Sprintf("%d votequorum messages of ours not delivered back yet", c.sent)
	case c.qdevRegPending:
		return false, "a quorum device registration awaits its QDEVICE_REG"
	case len(c.out) > 0:
		return false, fmt.Sprintf("%d actions not taken", len(c.out))
	}
	return true, ""
}

// Snapshot encodes the whole state of a quiet core (an error naming why
// if it is not quiet): the node table in list order with the device's
// record, quorum and the quorate decision, the last sync's members, the
// previous ones and its ring, the lowest/highest ids, every feature as
// configured and as changed at runtime (two_node, wait_for_all and its
// status, auto_tie_breaker and its list, last_man_standing and its window,
// allow_downscale, the expected-votes barrier and the tracking barrier),
// the quorum device's name, timeouts, master_wins and sync state, and the
// armed timers as the time left. Not the Config: the successor brings its
// own, of which Restore only checks the node id.
func (c *Core) Snapshot() ([]byte, error) {
	if ok, why := c.Quiet(); !ok {
		return nil, fmt.Errorf("votequorum: snapshot: core not quiet: %s", why)
	}
	e := snapcodec.NewEnc([]byte(snapshotMagic))
	e.UV(snapshotVersion)
	e.U32(c.id)
	e.Count(c.records)
	e.Count(len(c.list))
	for _, n := range c.list {
		e.U32(n.id)
		e.U32(uint32(n.state))
		e.U32(n.votes)
		e.U32(n.expected)
		e.U32(n.flags)
	}
	e.U32(uint32(c.qdev.state))
	e.U32(c.qdev.votes)
	e.U32(c.qdev.expected)
	e.U32(c.qdev.flags)
	e.UV(uint64(c.quorum))
	e.Flag(c.quorate)
	e.IDs(c.members)
	e.IDs(c.prevMembers)
	e.U32(c.ring.NodeID)
	e.UV(c.ring.Seq)
	e.Flag(c.lowest >= 0)
	if c.lowest >= 0 {
		e.U32(uint32(c.lowest))
		e.U32(uint32(c.highest))
	}
	e.Flags(c.twoNode, c.wfa, c.wfaStatus, c.wfaAutoset)
	e.UV(uint64(c.atb))
	e.UV(uint64(c.initialATB))
	e.IDs(c.atbList)
	e.Flag(c.lms)
	e.Dur(c.lmsWindow)
	e.Flag(c.allowDownscale)
	e.U32(c.evBarrier)
	e.Flag(c.evTracking)
	e.U32(c.evTrackingBarrier)
	e.Str(c.qdevName)
	e.Dur(c.qdevTimeout)
	e.Dur(c.qdevSyncTimeout)
	e.Flags(c.qdevCanOperate, c.qdevMasterWins, c.syncNodeinfoSent, c.syncWaitPoll)
	for _, t := range []timer{c.lmsTimer, c.qdevTimer} {
		e.Flag(t.set)
		if t.set {
			e.Dur(t.at - c.now)
		}
	}
	return e.Bytes(), nil
}

// Restore rebuilds a core from Snapshot's bytes for node cfg.NodeID (the
// snapshot's node id must be it), its clock at now: the snapshot's timers
// are due their time left after now. The bytes come from another process,
// so everything is checked: the version, every count against the bytes
// left and its bound, every value against its range, the node table's and
// the features' consistency, and the core's invariants; an error names
// what is wrong and where, and nothing panics. The restored core is quiet
// and its Snapshot is b again.
func Restore(cfg Config, b []byte, now time.Duration) (*Core, error) {
	if cfg.NodeID == 0 {
		return nil, fmt.Errorf("votequorum: restore: node id 0 is reserved for the quorum device")
	}
	if now < 0 {
		return nil, fmt.Errorf("votequorum: restore: clock %v before its start", now)
	}
	if !bytes.HasPrefix(b, []byte(snapshotMagic)) {
		return nil, fmt.Errorf("votequorum: restore: not a votequorum core snapshot (no %q at the start)", snapshotMagic)
	}
	c := &Core{id: cfg.NodeID, now: now, logLevel: cfg.LogLevel}
	d := snapcodec.NewDec(b, len(snapshotMagic))
	if err := c.restore(d); err != nil {
		return nil, fmt.Errorf("votequorum: restore: %w", err)
	}
	if d.Left() != 0 {
		return nil, fmt.Errorf("votequorum: restore: %d bytes after the end of the snapshot", d.Left())
	}
	if err := c.checkErr(); err != nil {
		return nil, fmt.Errorf("votequorum: restore: the snapshot breaks an invariant: %w", err)
	}
	return c, nil
}

// checkErr is check as an error.
func (c *Core) checkErr() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	c.check()
	return nil
}

// restore reads everything after the magic, in Snapshot's order.
func (c *Core) restore(d *snapcodec.Dec) error {
	if v := d.UV("version"); d.Err() == nil && v != snapshotVersion {
		return fmt.Errorf("snapshot version %d, this quorumd reads version %d", v, snapshotVersion)
	}
	if n := d.U32("node id"); d.Err() == nil && n != c.id {
		return fmt.Errorf("snapshot of node %d, this is node %d", n, c.id)
	}
	c.records = int(d.UpTo("allocated records", maxRecords))
	n := d.CountUpTo("node list", 5, maxRecords-1)
	if d.Err() != nil {
		return d.Err()
	}
	if c.records < n+1 {
		return fmt.Errorf("%d allocated records cannot hold %d nodes and the device's", c.records, n)
	}
	seen := map[uint32]bool{}
	for i := range n {
		r := &node{id: d.U32("node id"), state: State(d.U32("node state")), votes: d.U32("node votes"),
			expected: d.U32("node expected votes"), flags: d.U32("node flags")}
		if err := d.In("node %d of the list", i); err != nil {
			return err
		}
		switch {
		case r.id == 0:
			return fmt.Errorf("node %d of the list: id 0 is the quorum device's", i)
		case seen[r.id]:
			return fmt.Errorf("node %d of the list: id %d listed twice", i, r.id)
		case r.state < Member || r.state > Leaving:
			return fmt.Errorf("node %d of the list (id %d): state %d", i, r.id, r.state)
		}
		seen[r.id] = true
		if r.id == c.id {
			c.us = r
		}
		c.list = append(c.list, r)
	}
	if c.us == nil {
		return fmt.Errorf("node %d (this node) is not in the node list", c.id)
	}
	c.qdev = &node{state: State(d.U32("device state")), votes: d.U32("device votes"),
		expected: d.U32("device expected votes"), flags: d.U32("device flags")}
	if d.Err() == nil && c.qdev.state != 0 {
		return fmt.Errorf("device record state %d, want 0", c.qdev.state)
	}
	c.quorum = uint8(d.UpTo("quorum", 255))
	c.quorate = d.Flag("quorate")
	c.members = d.IDs("members", maxSnapList)
	c.prevMembers = d.IDs("previous members", maxSnapList)
	c.ring = RingID{NodeID: d.U32("ring representative"), Seq: d.UV("ring sequence")}
	c.lowest, c.highest = -1, -1
	if d.Flag("lowest/highest known") {
		c.lowest, c.highest = int64(d.U32("lowest node id")), int64(d.U32("highest node id"))
	}
	c.twoNode, c.wfa, c.wfaStatus, c.wfaAutoset = d.Flag("two_node"), d.Flag("wait_for_all"), d.Flag("wait_for_all_status"), d.Flag("wait_for_all autoset")
	c.atb = ATBMode(d.UpTo("auto_tie_breaker", uint64(ATBList)))
	c.initialATB = ATBMode(d.UpTo("auto_tie_breaker as configured", uint64(ATBList)))
	c.atbList = d.IDs("auto_tie_breaker_node list", maxSnapList)
	c.lms = d.Flag("last_man_standing")
	c.lmsWindow = d.Dur("last_man_standing_window", maxSnapDuration)
	c.allowDownscale = d.Flag("allow_downscale")
	c.evBarrier = d.U32("expected votes barrier")
	c.evTracking = d.Flag("expected_votes_tracking")
	c.evTrackingBarrier = d.U32("expected_votes_tracking barrier")
	c.qdevName = d.Str("quorum device name", QdeviceNameMax)
	c.qdevTimeout = d.Dur("quorum device timeout", maxSnapDuration)
	c.qdevSyncTimeout = d.Dur("quorum device sync_timeout", maxSnapDuration)
	c.qdevCanOperate, c.qdevMasterWins = d.Flag("quorum device can operate"), d.Flag("quorum device master_wins")
	c.syncNodeinfoSent, c.syncWaitPoll = d.Flag("sync NODEINFO sent"), d.Flag("sync waits for the device's poll")
	for _, t := range []struct {
		name string
		t    *timer
	}{{"last_man_standing timer", &c.lmsTimer}, {"quorum device timer", &c.qdevTimer}} {
		if t.t.set = d.Flag(t.name); t.t.set {
			left := d.Dur(t.name+" time left", maxSnapDuration)
			if d.Err() == nil && left <= 0 {
				return fmt.Errorf("%s armed with no time left", t.name)
			}
			t.t.at = c.now + left
			if t.t.at < c.now {
				return fmt.Errorf("%s due %v after %v overflows the clock", t.name, left, c.now)
			}
		}
	}
	if d.Err() != nil {
		return d.Err()
	}
	return c.consistent()
}

// consistent checks what the core's inputs never produce.
func (c *Core) consistent() error {
	switch {
	case c.atb != ATBNone && c.atb != c.initialATB:
		return fmt.Errorf("auto_tie_breaker %d, configured as %d", c.atb, c.initialATB)
	case (c.initialATB == ATBList) != (len(c.atbList) > 0):
		return fmt.Errorf("auto_tie_breaker %d with a list of %d node ids", c.initialATB, len(c.atbList))
	case slices.Contains(c.atbList, 0):
		return fmt.Errorf("auto_tie_breaker_node list %v holds 0", c.atbList)
	case c.lmsWindow <= 0 || c.qdevTimeout <= 0 || c.qdevSyncTimeout <= 0:
		return fmt.Errorf("a zero timeout (last_man_standing_window %v, quorum device %v, sync %v)", c.lmsWindow, c.qdevTimeout, c.qdevSyncTimeout)
	case c.lmsTimer.set && !c.lms:
		return fmt.Errorf("last_man_standing timer armed without last_man_standing")
	}
	return nil
}
