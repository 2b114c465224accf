package cpg

import (
	"bytes"
	"cmp"
	"slices"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpgmsg"
)

// round is the sync round in progress.
type round struct {
	r         Round
	downlist  []uint32 // our old members that did not come along
	processed bool     // SyncProcess ran: the barrier phase
	// joinlists are the JOINLISTs delivered in this round, the last one
	// per sender, kept current by that sender's later PROCJOIN/PROCLEAVE.
	joinlists map[uint32]*joinlist
	// ops are the PROCJOIN/PROCLEAVE delivered in this round, per sender.
	ops map[uint32][]roundOp
	// sent are the nodes whose DOWNLIST or JOINLIST was delivered in this
	// round: in a per-service round, the needle members taking part.
	sent map[uint32]bool
}

// roundOp is one delivered PROCJOIN (join) or PROCLEAVE.
type roundOp struct {
	join  bool
	group string
	pid   uint32
}

// joinlist is one sender's stored JOINLIST.
type joinlist struct {
	entries []storedEntry
}

type storedEntry struct {
	group string
	pid   uint32
	stamp uint64
}

func (j *joinlist) find(group string, pid uint32) int {
	for i, e := range j.entries {
		if e.group == group && e.pid == pid {
			return i
		}
	}
	return -1
}

// ConfChg is a configuration change of the service membership. cpg has no
// confchg handler in 3.1.7; the core only starts holding its ring
// messages, because a sync round follows.
func (c *Core) ConfChg(_ ring.ConfType) { c.hold = true }

// SyncInit is cpg_sync_init: remember the round's members and ring,
// compute our downlist (members of the last activated configuration not in
// Trans), discard any earlier round's JOINLISTs.
func (c *Core) SyncInit(r Round) {
	c.hold = true
	c.cutFragments("", true)
	c.lastSyncRing = r.Ring
	var down []uint32
	for _, n := range c.oldMembers {
		if !slices.Contains(r.Trans, n) {
			down = append(down, n)
		}
	}
	c.round = &round{r: r, downlist: down, joinlists: map[uint32]*joinlist{}, sent: map[uint32]bool{}}
	if c.kept317 != nil {
		c.round.joinlists, c.kept317 = c.kept317, nil
	}
}

// MaxJoinListEntries is the most entries one JOINLIST carries: 24 + 144 ×
// 7000 bytes stays under the ring's 1 MiB message limit. 3.1.7 sends one
// JOINLIST whatever its size (and cannot send it beyond the limit);
// receivers of either kind add up the entries of several.
const MaxJoinListEntries = 7000

// SyncProcess is cpg_sync_process: multicast DOWNLIST and JOINLIST (this
// node's processes as delivered so far, plus own messages the ring took
// while the bus was gone). It is always done at once (the host's queue
// never refuses).
func (c *Core) SyncProcess(r Round) bool {
	if c.round == nil || c.round.r.ID != r.ID {
		c.warn("sync process for round %d without its sync init", r.ID)
		return true
	}
	c.sendNow(cpgmsg.Downlist{OldMembers: uint32(len(c.oldMembers)), Left: c.round.downlist})
	var entries []cpgmsg.JoinEntry
	for _, p := range c.procs {
		if p.node == c.self {
			entries = append(entries, cpgmsg.JoinEntry{PID: p.pid, Group: p.group})
		}
	}
	// Own messages the ring took while the bus was gone (Detached).
	for _, op := range c.missed {
		i := slices.IndexFunc(entries, func(e cpgmsg.JoinEntry) bool { return e.PID == op.pid && e.Group == op.group })
		switch {
		case op.join && i < 0:
			entries = append(entries, cpgmsg.JoinEntry{PID: op.pid, Group: op.group})
		case !op.join && i >= 0:
			entries = slices.Delete(entries, i, i+1)
		}
	}
	// Like 3.1.7, nothing when there is no local process. Unlike it, a
	// list too long for one ring message goes in several.
	for len(entries) > 0 {
		n := min(len(entries), MaxJoinListEntries)
		c.sendNow(cpgmsg.JoinList{Entries: entries[:n]})
		entries = entries[n:]
	}
	c.round.processed = true
	return true
}

// SyncAbort is cpg_sync_abort: a new configuration interrupted the round.
// The stored JOINLISTs are discarded in any phase (addendum §3.1; 3.1.7
// keeps them in the barrier phase — Config.Keep317AbortBug).
func (c *Core) SyncAbort() {
	if c.round == nil {
		return
	}
	if c.cfg.Keep317AbortBug && c.round.processed {
		// 3.1.7's sync engine does not call abort in the barrier phase.
		c.kept317 = c.round.joinlists
	}
	c.round = nil
}

// downList notes a sender's DOWNLIST. A sender always sends it first in
// its sync messages, so needle starts that sender's stored JOINLIST afresh
// here: a JOINLIST of an aborted round that totemd delivers in this one
// (it was still queued) does not stand for the sender, and a sender with
// no local process (it sends no JOINLIST) counts as having none. 3.1.7
// keeps every entry it ever stored in the round.
func (c *Core) downList(from uint32) {
	if c.round == nil {
		c.stats.OutOfRound++
		return
	}
	c.round.sent[from] = true
	if !c.cfg.Keep317AbortBug {
		j := &joinlist{}
		c.round.joinlists[from] = j
		// Its own PROCJOIN/PROCLEAVE delivered earlier in this round count
		// even if it sends no JOINLIST (see roundProc).
		for _, op := range c.round.ops[from] {
			j.apply(op, &c.stamp)
		}
	}
}

// joinList stores a delivered JOINLIST. A sender with more processes than
// one message holds sends several; their entries add up.
func (c *Core) joinList(from uint32, m cpgmsg.JoinList) {
	if c.round == nil {
		c.stats.OutOfRound++
		return
	}
	c.round.sent[from] = true
	j := c.round.joinlists[from]
	if j == nil {
		j = &joinlist{}
		c.round.joinlists[from] = j
	}
	for _, e := range m.Entries {
		if !c.cfg.Keep317AbortBug && j.find(e.Group, e.PID) >= 0 {
			continue
		}
		c.stamp++
		j.entries = append(j.entries, storedEntry{group: e.Group, pid: e.PID, stamp: c.stamp})
	}
	if !c.cfg.Keep317AbortBug {
		// The sender may have built it before delivering some of its own
		// PROCJOIN/PROCLEAVE that came earlier in this round: replaying
		// them is harmless for those it had delivered.
		for _, op := range c.round.ops[from] {
			j.apply(op, &c.stamp)
		}
	}
}

// apply makes a stored JOINLIST follow one PROCJOIN or PROCLEAVE of its
// sender.
func (j *joinlist) apply(op roundOp, stamp *uint64) {
	i := j.find(op.group, op.pid)
	switch {
	case op.join && i < 0:
		*stamp++
		j.entries = append(j.entries, storedEntry{group: op.group, pid: op.pid, stamp: *stamp})
	case !op.join && i >= 0:
		j.entries = slices.Delete(j.entries, i, i+1)
	}
}

// roundProc logs a PROCJOIN or PROCLEAVE delivered inside a round and
// applies it to its sender's stored JOINLIST (needle only: a cpg message
// can reach the ring inside a round when it reached totemd just after the
// configuration change). With the replay in joinList, a sender's stored
// JOINLIST always equals its processes as of the last delivered message,
// whenever the sender built it, so every member ends the round alike.
func (c *Core) roundProc(from uint32, join bool, group string, pid uint32) {
	if c.round == nil || c.cfg.Keep317AbortBug {
		return
	}
	op := roundOp{join: join, group: group, pid: pid}
	if c.round.ops == nil {
		c.round.ops = map[uint32][]roundOp{}
	}
	c.round.ops[from] = append(c.round.ops[from], op)
	if j := c.round.joinlists[from]; j != nil {
		j.apply(op, &c.stamp)
	}
}

// SyncActivate is cpg_sync_activate: NODEDOWN confchgs for our downlist,
// NODEUP confchgs for the members' JOINLISTs, PROCDOWN confchgs for
// processes no JOINLIST mentions, the totem confchg to every connection,
// then the held ring messages go out.
func (c *Core) SyncActivate(r Round) {
	rd := c.round
	if rd == nil {
		c.warn("sync activate for round %d without its sync init", r.ID)
		rd = &round{r: r, joinlists: map[uint32]*joinlist{}, sent: map[uint32]bool{}}
	}
	c.round = nil
	c.missed = nil
	c.cutFragments("", true)
	c.oldMembers = slices.Clone(r.Members)

	// 1. Down list.
	left := map[string][]Address{}
	kept := c.procs[:0:0]
	for _, p := range c.procs {
		if slices.Contains(rd.downlist, p.node) {
			left[p.group] = append(left[p.group], Address{NodeID: p.node, PID: p.pid, Reason: ReasonNodeDown})
			c.dropCount(p)
			continue
		}
		kept = append(kept, p)
	}
	for _, g := range groupOrder(left) {
		// notify computes members from the list still holding the left
		// entries, so put them back for the call.
		c.notify(g, nil, left[g])
	}
	c.procs = kept

	// The JOINLISTs that count: the last one of each round member (3.1.7:
	// every stored one, its own excepted).
	var stored []struct {
		from uint32
		e    storedEntry
	}
	for from, j := range rd.joinlists {
		if c.cfg.Keep317AbortBug {
			if from == c.self {
				continue
			}
		} else if !slices.Contains(r.Members, from) {
			continue
		}
		for _, e := range j.entries {
			stored = append(stored, struct {
				from uint32
				e    storedEntry
			}{from, e})
		}
	}
	// Newest first, as 3.1.7's list.
	slices.SortFunc(stored, func(a, b struct {
		from uint32
		e    storedEntry
	}) int {
		return -cmp.Compare(a.e.stamp, b.e.stamp)
	})

	// 2. Join list.
	// Sets keep a round with thousands of processes linear.
	known := make(map[proc]bool, len(c.procs))
	for _, p := range c.procs {
		known[p] = true
	}
	listed := make(map[proc]bool, len(stored))
	joined := map[string][]Address{}
	for _, s := range stored {
		p := proc{group: s.e.group, node: s.from, pid: s.e.pid}
		listed[p] = true
		if known[p] {
			continue
		}
		known[p] = true
		c.insertProc(p)
		joined[s.e.group] = append(joined[s.e.group], Address{NodeID: s.from, PID: s.e.pid, Reason: ReasonNodeUp})
	}
	for _, g := range groupOrder(joined) {
		c.notify(g, joined[g], nil)
	}

	// 3. Zombies: entries no counted JOINLIST mentions. 3.1.7 spares its
	// own node's entries; needle checks them against its own JOINLIST too,
	// which equals them (see roundProc): all members end alike. A
	// per-service round (3.1.7 has none) spares the entries of members
	// that sent nothing in it: corosync nodes, which never see such a
	// round; their processes stay until a full round says otherwise.
	_, haveOwn := rd.joinlists[c.self]
	for i := 0; i < len(c.procs); {
		p := c.procs[i]
		if p.node == c.self && (c.cfg.Keep317AbortBug || !haveOwn) {
			i++
			continue
		}
		if r.Service && !rd.sent[p.node] {
			i++
			continue
		}
		if listed[p] {
			i++
			continue
		}
		c.notify(p.group, nil, []Address{{NodeID: p.node, PID: p.pid, Reason: ReasonProcDown}})
		c.dropCount(p)
		c.procs = slices.Delete(c.procs, i, i+1)
	}

	// 4. Totem confchg to every connection.
	c.eachConn(func(k *conn) {
		c.emit(TotemConfChgEvent{Conn: k.id, Ring: c.lastSyncRing, Members: slices.Clone(r.Members)})
	})

	// Release what waited for the round.
	c.hold = false
	c.out.Mcasts = append(c.out.Mcasts, c.held...)
	c.held = nil
}

// cKey is a group name as 3.1.7's skiplist sees it: a C string, cut at the
// first NUL.
func cKey(name string) string {
	if i := strings.IndexByte(name, 0); i >= 0 {
		return name[:i]
	}
	return name
}

// groupOrder sorts the groups of one sync step as 3.1.7 emits them: strcmp
// of the names up to the first NUL (addendum §3.2). Names equal up to
// their first NUL, which 3.1.7 merges into one confchg, are kept apart and
// ordered by their full bytes.
func groupOrder[V any](m map[string]V) []string {
	gs := make([]string, 0, len(m))
	for g := range m {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b string) int {
		if c := bytes.Compare([]byte(cKey(a)), []byte(cKey(b))); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return gs
}

// Detached: the bus to totemd is gone. The core holds its ring messages
// until the sync round that follows the next attachment activates. The
// ring delivered what it had accepted to every other node while this cpgd
// was away: its own PROCJOIN/PROCLEAVE among them count in its next
// JOINLIST, so the round after the reattachment gives every node, this one
// included, the same view of this node's processes. Keeping the core
// across a reattachment keeps the clients; the other nodes see them leave
// and come back.
func (c *Core) Detached() {
	c.hold = true
	c.round = nil
	c.kept317 = nil
	// Until Requeue says otherwise, everything sent was accepted.
	took := len(c.own) - c.procOps(c.held)
	c.missed = append(c.missed, c.own[:took]...)
	c.own = slices.Clone(c.own[took:])
}

// Requeue gives back, in their order, the multicasts the host failed
// because the bus went away before the ring accepted them; the adapter
// calls it at the reattachment, and again for failures reported later
// (each batch after the previous one). The core sends them again: ahead of
// anything it still holds, or at once if the round after the reattachment
// is already over. An accepted client multicast is never dropped, a
// PROCJOIN or PROCLEAVE is not lost. Failed sync messages (DOWNLIST,
// JOINLIST) are dropped: their round is over, and a stale JOINLIST must
// not stand for this node in a later one.
func (c *Core) Requeue(failed [][]byte) {
	var resend [][]byte
	var ops []roundOp
	for _, b := range failed {
		m, err := cpgmsg.Decode(b, false)
		if err == nil && (m.Fn() == cpgmsg.FnJoinList || m.Fn() == cpgmsg.FnDownlist) {
			continue
		}
		resend = append(resend, b)
		switch m := m.(type) {
		case cpgmsg.ProcJoin:
			ops = append(ops, roundOp{join: true, group: m.Group, pid: m.PID})
		case cpgmsg.ProcLeave:
			ops = append(ops, roundOp{group: m.Group, pid: m.PID})
		}
	}
	// Detached counted these as taken by the ring: they are on their way
	// again. (Once a round activated, missed is gone and they are plain
	// repeats: a PROCJOIN of a known process and a PROCLEAVE of an unknown
	// one change nothing.)
	var back []roundOp
	for i := len(ops) - 1; i >= 0; i-- {
		if j := lastIndex(c.missed, ops[i]); j >= 0 {
			c.missed = slices.Delete(c.missed, j, j+1)
		}
		back = append([]roundOp{ops[i]}, back...)
	}
	c.own = append(back, c.own...)
	if c.hold {
		c.held = append(resend, c.held...)
	} else {
		c.out.Mcasts = append(c.out.Mcasts, resend...)
	}
}

func lastIndex(ops []roundOp, op roundOp) int {
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i] == op {
			return i
		}
	}
	return -1
}

// procOps counts the PROCJOIN/PROCLEAVE among encoded messages.
func (c *Core) procOps(msgs [][]byte) int {
	n := 0
	for _, b := range msgs {
		if m, err := cpgmsg.Decode(b, false); err == nil && (m.Fn() == cpgmsg.FnProcJoin || m.Fn() == cpgmsg.FnProcLeave) {
			n++
		}
	}
	return n
}
