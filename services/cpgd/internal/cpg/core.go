package cpg

import (
	"fmt"
	"slices"

	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpgmsg"
)

// connState is a connection's cpd_state.
type connState uint8

const (
	unjoined connState = iota
	joinStarted
	joinCompleted
	leaveStarted
)

func (s connState) String() string {
	return [...]string{"UNJOINED", "JOIN_STARTED", "JOIN_COMPLETED", "LEAVE_STARTED"}[s]
}

// proc is one process-list entry (corosync's process_info).
type proc struct {
	group string
	node  uint32
	pid   uint32
}

// asmKey names a fragmented message in progress: its group and sender.
type asmKey struct {
	group     string
	node, pid uint32
}

// assembly is how far one sender's fragmented message got, with its
// fragments so far for members that join before it ends.
type assembly struct {
	msglen, got uint32
	frags       []fragment // nil once over MaxReplayBytes
	overflow    bool
}

// fragment is one delivered fragment kept for replay.
type fragment struct {
	typ  PartialType
	data []byte
}

// MaxReplayBytes bounds the fragments kept per message in progress for
// processes that join the group before its last fragment; a join into a
// bigger message in progress cuts that message instead.
const MaxReplayBytes = 64 << 20

// conn is one client connection (corosync's cpg_pd).
type conn struct {
	id        ConnID
	state     connState
	group     string
	pid       uint32
	flags     uint32
	finalized bool // FINALIZE received: no more events, still owns its group until Disconnect

	initialTotemSent bool
	transition       uint64 // confchgs sent to this connection
	fragStart        uint64 // transition at the FIRST fragment it sent

	iters map[uint64]*iterator
}

// iterator is one iteration snapshot.
type iterator struct {
	items []IterEntry
	next  int
}

// Core is one node's CPG state machine. It is not safe for concurrent use.
type Core struct {
	cfg  Config
	self uint32

	// procs is the process list, sorted by node then pid; among equal
	// (node, pid) in insertion order, as corosync's do_proc_join.
	procs []proc
	// conns is corosync's cpg_pd list: newest first.
	conns  []*conn
	byID   map[ConnID]*conn
	nextIt uint64

	// Sync state.
	hold         bool                 // ring messages are held (a round runs, or none activated yet)
	held         [][]byte             // ring messages waiting for the round to end, in order
	round        *round               // the round in progress
	oldMembers   []uint32             // members at the last activation (my_old_member_list)
	lastSyncRing ring.ID              // ring of the last SyncInit (last_sync_ring_id)
	asm          map[asmKey]assembly  // fragmented messages in progress
	nodeCount    map[groupNode]int    // processes per group and node (the per-message "known node" check)
	own          []roundOp            // own PROCJOIN/PROCLEAVE sent or held, not yet delivered, in order
	missed       []roundOp            // own ones the ring took while the bus was gone (see Detached)
	stamp        uint64               // orders stored JOINLIST entries by arrival (3.1.7 walks them newest first)
	kept317      map[uint32]*joinlist // JOINLISTs 3.1.7 keeps across a barrier-phase abort (Keep317AbortBug)

	out   Ready
	stats Stats
}

// New returns a core with no groups, no connections and no ring. It holds
// ring messages until its first sync round activates (a cpgd that just
// attached always gets one).
func New(cfg Config) (*Core, error) {
	if cfg.NodeID == 0 {
		return nil, fmt.Errorf("cpg: config: NodeID is 0, want this node's id")
	}
	return &Core{cfg: cfg, self: cfg.NodeID, byID: map[ConnID]*conn{}, hold: true, asm: map[asmKey]assembly{}, nodeCount: map[groupNode]int{}}, nil
}

// NodeID is this node's id.
func (c *Core) NodeID() uint32 { return c.self }

// Ready returns and clears what the core wants done.
func (c *Core) Ready() Ready {
	r := c.out
	c.out = Ready{}
	return r
}

// HasReady reports whether Ready has anything.
func (c *Core) HasReady() bool { return len(c.out.Mcasts) > 0 || len(c.out.Events) > 0 }

// Stats returns the counters of ignored input.
func (c *Core) Stats() Stats { return c.stats }

// InSync reports whether a sync round runs (or none has activated yet):
// corosync answers flow-controlled requests CS_ERR_TRY_AGAIN then.
func (c *Core) InSync() bool { return c.hold }

// Held is the number of ring messages waiting for the round to end.
func (c *Core) Held() int { return len(c.held) }

func (c *Core) warn(format string, args ...any) {
	if c.cfg.Warn != nil {
		c.cfg.Warn(fmt.Sprintf(format, args...))
	}
}

// send queues a ring message: held while a round runs, else out now.
func (c *Core) send(m cpgmsg.Message) {
	b := cpgmsg.Encode(m)
	if c.hold {
		c.held = append(c.held, b)
		c.stats.HeldMcasts++
		return
	}
	c.out.Mcasts = append(c.out.Mcasts, b)
}

// sendNow queues a sync message, ahead of held ones.
func (c *Core) sendNow(m cpgmsg.Message) {
	c.out.Mcasts = append(c.out.Mcasts, cpgmsg.Encode(m))
}

func (c *Core) emit(e Event) { c.out.Events = append(c.out.Events, e) }

// ownPending reports whether a PROCJOIN or PROCLEAVE of (group, pid)
// from this node is on its way.
func (c *Core) ownPending(group string, pid uint32) bool {
	// Ops the ring took while the bus was gone count until the next
	// activation: until Requeue, some of them may still be on their way.
	for _, op := range append(slices.Clone(c.own), c.missed...) {
		if op.group == group && op.pid == pid {
			return true
		}
	}
	return false
}

// findProc returns the index of (group, node, pid) in the process list.
func (c *Core) findProc(group string, node, pid uint32) int {
	for i, p := range c.procs {
		if p.node == node && p.pid == pid && p.group == group {
			return i
		}
	}
	return -1
}

// insertProc adds p after every entry with a smaller or equal (node, pid),
// as corosync's sorted insert.
func (c *Core) insertProc(p proc) {
	i := len(c.procs)
	for j, q := range c.procs {
		if q.node > p.node || (q.node == p.node && q.pid > p.pid) {
			i = j
			break
		}
	}
	c.procs = slices.Insert(c.procs, i, p)
	c.nodeCount[groupNode{p.group, p.node}]++
}

// groupNode keys the count of a node's processes in a group.
type groupNode struct {
	group string
	node  uint32
}

// dropCount forgets one process of p's node in p's group.
func (c *Core) dropCount(p proc) {
	k := groupNode{p.group, p.node}
	if c.nodeCount[k] <= 1 {
		delete(c.nodeCount, k)
	} else {
		c.nodeCount[k]--
	}
}

// removeProc deletes (group, node, pid); it reports whether it was there.
func (c *Core) removeProc(group string, node, pid uint32) bool {
	i := c.findProc(group, node, pid)
	if i < 0 {
		return false
	}
	c.dropCount(c.procs[i])
	c.procs = slices.Delete(c.procs, i, i+1)
	return true
}

// nodeInGroup reports whether node has any process in group (the check
// before delivering a message).
func (c *Core) nodeInGroup(group string, node uint32) bool {
	return c.nodeCount[groupNode{group, node}] > 0
}

// groupSize counts the entries of group.
func (c *Core) groupSize(group string) int {
	n := 0
	for _, p := range c.procs {
		if p.group == group {
			n++
		}
	}
	return n
}

// eachConn calls f for every connection in cpg_pd list order (newest
// first), finalized ones excluded.
func (c *Core) eachConn(f func(*conn)) {
	for i := len(c.conns) - 1; i >= 0; i-- {
		if !c.conns[i].finalized {
			f(c.conns[i])
		}
	}
}

// notify emits one group confchg (corosync's notify_lib_joinlist): the
// process list already holds the joined entries and still holds the left
// ones.
func (c *Core) notify(group string, joined, left []Address) {
	inLeft := func(p proc) bool {
		for _, a := range left {
			if a.NodeID == p.node && a.PID == p.pid {
				return true
			}
		}
		return false
	}
	var members []Address
	for _, p := range c.procs {
		if p.group == group && !inLeft(p) {
			members = append(members, Address{NodeID: p.node, PID: p.pid})
		}
	}
	var fresh []*conn // connections whose join this confchg completes
	for _, a := range joined {
		if a.NodeID != c.self {
			continue
		}
		c.eachConn(func(k *conn) {
			if k.state != unjoined && k.pid == a.PID && k.group == group {
				if k.state == joinStarted {
					fresh = append(fresh, k)
				}
				k.state = joinCompleted
			}
		})
	}
	c.eachConn(func(k *conn) {
		if k.group != group || (k.state != joinCompleted && k.state != leaveStarted) {
			return
		}
		c.emit(ConfChgEvent{Conn: k.id, Group: group, Members: slices.Clone(members), Left: slices.Clone(left), Joined: slices.Clone(joined)})
		k.transition++
	})
	c.replayFragments(group, joined, fresh)
	// A leaving connection is done once it appears in a left list (2.0.0;
	// 3.1.7's reset loop never runs, spec/cpg.md §4.3). A pending LEAVE
	// can also end as PROCDOWN when a sync round removed the entry first.
	for _, a := range left {
		if a.NodeID != c.self {
			continue
		}
		c.eachConn(func(k *conn) {
			if k.state == leaveStarted && k.pid == a.PID && k.group == group {
				k.reset()
			}
		})
	}
	c.eachConn(func(k *conn) {
		if k.flags&FlagInitialTotemConf != 0 && !k.initialTotemSent {
			k.initialTotemSent = true
			c.emit(TotemConfChgEvent{Conn: k.id, Ring: c.lastSyncRing, Members: slices.Clone(c.oldMembers)})
		}
	})
}

func (k *conn) reset() {
	k.state = unjoined
	k.group = ""
	k.pid = 0
}

// ProcessList returns a copy of the process list (group, node, pid in list
// order), for tests and the checker.
func (c *Core) ProcessList() []IterEntry {
	out := make([]IterEntry, len(c.procs))
	for i, p := range c.procs {
		out[i] = IterEntry{Group: p.group, NodeID: p.node, PID: p.pid}
	}
	return out
}

// CheckInvariants reports the first broken internal invariant: the process
// list sorted by node and pid without duplicates, the per-group node
// counts matching it, and connection states consistent. The simulator
// calls it after every step; a daemon may call it in debug builds.
func (c *Core) CheckInvariants() error {
	seen := map[proc]bool{}
	counts := map[groupNode]int{}
	for i, p := range c.procs {
		if seen[p] {
			return fmt.Errorf("cpg: process %d/%d of %s listed twice", p.node, p.pid, Printable(p.group))
		}
		seen[p] = true
		counts[groupNode{p.group, p.node}]++
		if i > 0 {
			q := c.procs[i-1]
			if q.node > p.node || (q.node == p.node && q.pid > p.pid) {
				return fmt.Errorf("cpg: process list out of order at %d: %d/%d after %d/%d", i, p.node, p.pid, q.node, q.pid)
			}
		}
	}
	if len(counts) != len(c.nodeCount) {
		return fmt.Errorf("cpg: %d group/node counts, the list has %d", len(c.nodeCount), len(counts))
	}
	for k, n := range counts {
		if c.nodeCount[k] != n {
			return fmt.Errorf("cpg: node %d counted %d times in %s, listed %d", k.node, c.nodeCount[k], Printable(k.group), n)
		}
	}
	for _, k := range c.conns {
		if k.state == unjoined && (k.group != "" || k.pid != 0) {
			return fmt.Errorf("cpg: unjoined connection %d keeps group %s pid %d", k.id, Printable(k.group), k.pid)
		}
		if c.byID[k.id] != k {
			return fmt.Errorf("cpg: connection %d missing from the index", k.id)
		}
	}
	if len(c.byID) != len(c.conns) {
		return fmt.Errorf("cpg: %d connections indexed, %d listed", len(c.byID), len(c.conns))
	}
	if !c.hold && len(c.held) > 0 {
		return fmt.Errorf("cpg: %d messages held outside a round", len(c.held))
	}
	return nil
}
