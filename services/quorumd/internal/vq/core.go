package vq

import (
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
)

// ATBMode is auto_tie_breaker's kind (runtime.votequorum.atb_type).
type ATBMode uint32

// auto_tie_breaker kinds.
const (
	ATBNone ATBMode = iota
	ATBLowest
	ATBHighest
	ATBList
)

// maxRecords is corosync's node table: PROCESSOR_COUNT_MAX (384) + 2,
// the quorum device's record included.
const maxRecords = 386

type node struct {
	id       uint32
	state    State
	votes    uint32
	expected uint32
	flags    uint32
}

type timer struct {
	set bool
	at  time.Duration
}

// Core is one node's votequorum. Not safe for concurrent use.
type Core struct {
	id   uint32
	us   *node
	qdev *node
	// list is cluster_members_list: every record but the device's, in
	// corosync's insertion order (see addOrdered).
	list    []*node
	records int // allocated records, the device's included

	quorum  uint8 // 8 bits in corosync: wraps above 255
	quorate bool

	members, prevMembers []uint32
	ring                 RingID
	lowest, highest      int64 // -1 until the first quorate recalculation

	twoNode                          bool
	wfa, wfaStatus, wfaAutoset       bool
	atb, initialATB                  ATBMode
	atbList                          []uint32
	lms                              bool
	lmsWindow                        time.Duration
	allowDownscale                   bool
	evBarrier                        uint32
	evTracking                       bool
	evTrackingBarrier                uint32
	qdevName                         string
	qdevTimeout, qdevSyncTimeout     time.Duration
	qdevCanOperate                   bool
	qdevRegPending                   bool
	qdevMasterWins                   bool
	syncInProgress, syncNodeinfoSent bool
	syncWaitPoll, syncProcessWaiting bool

	now                 time.Duration
	lmsTimer, qdevTimer timer

	// sent counts our multicasts handed to the driver and not yet
	// delivered back (nor reported lost: Unsent, ForgetSent); a core with
	// some on their way is not Quiet.
	sent int

	out []Action
	// recalc is the last recalculation's record (LastRecalc).
	recalc *Recalc
	// logLevel is Config.LogLevel.
	logLevel hclog.Level
}

// New builds the core from the start-up configuration, as exec_init does:
// it reads the configuration (a start-up error is returned with corosync's
// text, e.g. "configuration error: two_node and quorum device cannot be
// configured at the same time!"), computes quorum and queues NODEINFO(us).
func New(cfg Config) (*Core, []Action, error) {
	if cfg.NodeID == 0 {
		return nil, nil, fmt.Errorf("votequorum: node id 0 is reserved for the quorum device")
	}
	c := &Core{id: cfg.NodeID, lowest: -1, highest: -1, qdevCanOperate: true,
		lmsWindow: DefaultLMSWindow, qdevTimeout: DefaultQdeviceTimeout, qdevSyncTimeout: DefaultQdeviceSyncTimeout,
		logLevel: cfg.LogLevel}
	c.qdev = c.allocate(0)
	c.us = c.allocate(cfg.NodeID)
	c.set("runtime.votequorum.this_node_id", cfg.NodeID)
	c.us.state = Member
	c.us.votes = 1
	c.us.flags |= FlagFirst
	if err := c.readConfig(cfg, false); err != "" {
		return nil, c.take(), fmt.Errorf("%s", err)
	}
	c.recalculate(false, false)
	c.sendNodeInfo(c.id)
	c.check()
	return c, c.take(), nil
}

func (c *Core) take() []Action {
	a := c.out
	c.out = nil
	for _, x := range a {
		if _, ok := x.(Mcast); ok {
			c.sent++
		}
	}
	return a
}

func (c *Core) emit(a Action) { c.out = append(c.out, a) }

func (c *Core) logf(l hclog.Level, format string, args ...any) {
	if c.logs(l) {
		c.emit(Log{Level: l, Msg: fmt.Sprintf(format, args...)})
	}
}

// logs reports whether Log actions of level l are built (Config.LogLevel).
func (c *Core) logs(l hclog.Level) bool { return l >= c.logLevel }

func (c *Core) set(key string, v any) { c.emit(CmapSet{Key: key, Value: v}) }

func (c *Core) mcast(m Message) { c.emit(Mcast{Msg: m, Payload: Encode(m)}) }

// --- node table ---

// addOrdered is node_add_ordered: insert before the first record with a
// larger id; when there is none the record goes before the last one
// (corosync's off-by-one: a two-node table reads [2, 1]).
func (c *Core) addOrdered(n *node) {
	if len(c.list) == 0 {
		c.list = append(c.list, n)
		return
	}
	at := len(c.list) - 1
	for i, o := range c.list {
		if n.id < o.id {
			at = i
			break
		}
	}
	c.list = slices.Insert(c.list, at, n)
}

// allocate is allocate_node; nil when the table is full and no record is
// DEAD (corosync would corrupt memory there, addendum §1.8).
func (c *Core) allocate(id uint32) *node {
	n := &node{id: id}
	if c.records < maxRecords {
		c.records++
	} else {
		i := slices.IndexFunc(c.list, func(o *node) bool { return o.state == Dead })
		if i < 0 {
			return nil
		}
		c.list = slices.Delete(c.list, i, i+1)
	}
	if id != 0 {
		c.addOrdered(n)
	}
	return n
}

func (c *Core) find(id uint32) *node {
	if id == c.id {
		return c.us
	}
	if id == 0 {
		return c.qdev
	}
	for _, n := range c.list {
		if n.id == id {
			return n
		}
	}
	return nil
}

func (c *Core) memberHas(id int64) bool {
	for _, n := range c.list {
		if n.state == Member && int64(n.id) == id {
			return true
		}
	}
	return false
}

// --- arithmetic ---

// calculateQuorum is calculate_quorum; the result is not yet truncated to
// 8 bits (setexpected compares it whole).
func (c *Core) calculateQuorum(allowDecrease bool, maxExpected uint32) (q, totalVotes uint32) {
	if c.allowDownscale && allowDecrease && maxExpected != 0 {
		maxExpected = max(c.evBarrier, maxExpected)
	}
	var highest, nodes uint32
	for _, n := range c.list {
		if n.state == Member {
			highest = max(highest, n.expected)
			totalVotes += n.votes
			nodes++
		}
	}
	if c.us.flags&FlagQdeviceCastVote != 0 {
		totalVotes += c.qdev.votes
		nodes++
	}
	if maxExpected > 0 {
		highest = maxExpected
	}
	q = max((highest+2)/2, (totalVotes+2)/2)
	if !allowDecrease {
		q = max(uint32(c.quorum), q)
	}
	if c.twoNode && nodes <= 2 {
		q = 1
	}
	return q, totalVotes
}

func (c *Core) updateNodeExpected(v uint32) {
	if v == 0 {
		return
	}
	for _, n := range c.list {
		if n.state == Member {
			n.expected = v
		}
	}
}

func (c *Core) setWFAStatus(s bool) {
	c.wfaStatus = s
	if s {
		c.us.flags |= FlagWFAStatus
	} else {
		c.us.flags &^= FlagWFAStatus
	}
	c.set("runtime.votequorum.wait_for_all_status", b2u8(s))
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (c *Core) lowestHighest() {
	lo, hi := int64(c.us.id), int64(c.us.id)
	for _, n := range c.list {
		if n.state == Member {
			lo = min(lo, int64(n.id))
			hi = max(hi, int64(n.id))
		}
	}
	c.lowest, c.highest = lo, hi
	c.logf(hclog.Debug, "lowest node id: %d us: %d", lo, c.us.id)
	c.set("runtime.votequorum.lowest_node_id", uint32(lo))
	c.logf(hclog.Debug, "highest node id: %d us: %d", hi, c.us.id)
	c.set("runtime.votequorum.highest_node_id", uint32(hi))
}

// atbCheck is check_auto_tie_breaker.
func (c *Core) atbCheck() bool {
	switch c.atb {
	case ATBLowest:
		return c.memberHas(c.lowest)
	case ATBHighest:
		return c.memberHas(c.highest)
	}
	for i, id := range c.atbList {
		if slices.Contains(c.members, id) {
			for _, earlier := range c.atbList[:i] {
				if slices.Contains(c.prevMembers, earlier) {
					c.logf(hclog.Debug, "ATB_LIST found node %d in previous partition but not here, quorum denied", earlier)
					return false
				}
			}
			c.logf(hclog.Debug, "ATB_LIST found node %d in current partition, we can be quorate", id)
			return true
		}
	}
	c.logf(hclog.Debug, "ATB_LIST found no list nodes in current partition, we cannot be quorate")
	return false
}

func (c *Core) masterWins() bool {
	for _, n := range c.list {
		if n.state == Member && n.flags&FlagQdeviceMasterWins != 0 && n.flags&FlagQdeviceCastVote != 0 {
			return true
		}
	}
	return false
}

// areWeQuorate is are_we_quorate.
func (c *Core) areWeQuorate(totalVotes uint32) {
	if c.wfa && c.wfaStatus {
		if totalVotes != c.us.expected {
			c.logf(hclog.Info, "Waiting for all cluster members. Current votes: %d expected_votes: %d", totalVotes, c.us.expected)
			c.assert(!c.quorate, "waiting for all while quorate")
			return
		}
		c.setWFAStatus(false)
	}
	quorate := uint32(c.quorum) <= totalVotes
	if quorate {
		c.lowestHighest()
	}
	if c.atb != ATBNone &&
		totalVotes == c.us.expected/2 &&
		len(c.prevMembers)-len(c.members) < int(c.quorum) &&
		c.atbCheck() {
		quorate = true
	}
	if c.qdevMasterWins && !quorate && c.masterWins() {
		c.logf(hclog.Debug, "node is quorate as part of master_wins partition")
		quorate = true
	}
	changed := quorate != c.quorate
	if c.quorate && !quorate {
		c.logf(hclog.Debug, "quorum lost, blocking activity")
	}
	if !c.quorate && quorate {
		c.logf(hclog.Debug, "quorum regained, resuming activity")
	}
	c.quorate = quorate
	if quorate {
		c.us.flags |= FlagQuorate
	} else {
		c.us.flags &^= FlagQuorate
	}
	if c.wfa {
		c.setWFAStatus(!quorate)
	}
	if changed && !c.syncInProgress {
		c.notifyQuorum()
	}
}

func (c *Core) notifyQuorum() {
	c.emit(QuorumNotify{Quorate: c.quorate, Ring: c.ring, Members: slices.Clone(c.members), Nodes: c.Nodes()})
}

// recalculate is recalculate_quorum.
func (c *Core) recalculate(allowDecrease, byCurrentNodes bool) {
	var total, count uint32
	for _, n := range c.list {
		if n.state == Member {
			count++
			total += n.votes
		}
	}
	if c.qdev.votes != 0 {
		total += c.qdev.votes
		count++
	}
	if !byCurrentNodes {
		count = 0
	}
	c.noteRecalc(total)
	if total > c.us.expected {
		c.us.expected = total
		c.logf(hclog.Debug, "Sending expected votes callback")
		c.emit(ExpectedVotesNotify{Expected: c.us.expected})
	}
	if c.evTracking && c.us.expected > c.evTrackingBarrier {
		c.updateTrackingBarrier(c.us.expected)
	}
	c.noteRecalcNodes()
	q, tv := c.calculateQuorum(allowDecrease, count)
	c.quorum = uint8(q)
	c.updateNodeExpected(count)
	c.areWeQuorate(tv)
}

func (c *Core) updateTrackingBarrier(v uint32) {
	c.evTrackingBarrier = v
	c.set("runtime.votequorum.ev_tracking_barrier", v)
	c.emit(PersistBarrier{Value: v})
}

// --- sending ---

func (c *Core) nodeInfoOf(id uint32) (NodeInfo, bool) {
	n := c.find(id)
	if n == nil {
		return NodeInfo{}, false
	}
	return NodeInfo{NodeID: id, Votes: n.votes, ExpectedVotes: n.expected, Flags: n.flags}, true
}

func (c *Core) sendNodeInfo(id uint32) {
	if m, ok := c.nodeInfoOf(id); ok {
		c.mcast(m)
	}
}

// --- invariants ---

func (c *Core) assert(ok bool, what string) {
	if !ok {
		panic("vq: broken invariant: " + what)
	}
}

// check asserts what must hold between inputs.
func (c *Core) check() {
	c.assert(c.find(c.id) == c.us && slices.Contains(c.list, c.us), "us is in the node list")
	c.assert(!slices.Contains(c.list, c.qdev), "the device record is outside the node list")
	c.assert(c.records <= maxRecords && len(c.list)+1 <= maxRecords, "node table bounded")
	// Not asserted: that our QUORATE/WFASTATUS flags mirror the decision.
	// In 3.1.7 our own NODEINFO, delivered back, overwrites our flags with
	// the ones it carried; if the decision changed in between and the
	// following recalculation returns early (wait_for_all), the stale
	// flags stay and go out in our next NODEINFO. Kept: peers see it.
	c.assert(!(c.wfa && c.wfaStatus && c.quorate), "wait_for_all holds quorum back")
	seen := map[uint32]bool{}
	for _, n := range c.list {
		c.assert(n.id != 0 && !seen[n.id], "node ids unique and non-zero")
		seen[n.id] = true
	}
}
