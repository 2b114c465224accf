package qbipc

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// What grows per connection, and its bound.
//
// Events are the only thing this package queues. SendEvent never blocks
// the service: while the connection's queue is empty it writes the event
// into the client's event ring (SHM) or socket itself if there is room
// (its SHM notification byte follows from the event goroutine, the bytes
// of a burst in one write, or from SendEvent once one has waited
// maxNotifyDelay); otherwise it appends to the queue, and the
// connection's event goroutine moves queued events into the ring or
// socket as the client makes room. An event goes through the checks below
// either way: the bounds apply to what may have to be queued. Responses are not queued: Respond
// writes straight into the client's response ring or socket, and a client
// whose response channel is full is dropped ("response failed"); requests
// are read one at a time, only after the previous one was handled. So the
// memory a client can make the server hold is its event queue, bounded
// twice:
//
//   - per connection by Config.EventQueueBytes, and
//   - for all connections of every Server sharing one EventBudget (by
//     default each Server has its own) by the budget's limit.
//
// A queued event is accounted at the capacity of its buffer plus
// eventOverhead bytes of bookkeeping, so the accounted total is what the
// queues hold; Go's collector may keep up to about twice that on the heap
// between cycles (GOGC=100).
//
// At either bound the client is disconnected, cleanly (its library sees
// the connection end and reports CS_ERR_LIBRARY from dispatch, as when the
// daemon restarts, and reconnects), and a warning names its service, pid,
// uid, gid and process name. At the per-connection bound that is the
// client whose event does not fit; at the shared budget it is the client
// that has gone longest without taking an event from its queue (a client
// that reads makes room all the time, so a burst to clients that keep up
// does not cost them their connection while one that stopped reading
// holds bytes), the largest queue among equals, repeated until the new
// event fits. A client whose
// queue made no progress for Config.EventStallTimeout is dropped the same
// way, whatever its size.
//
// Why not corosync's behaviour: corosync 3.1.7 (exec/ipc_glue.c,
// msg_send_or_queue and outq_flush) keeps every event libqb refuses with
// -EAGAIN on a per-connection list with no limit and disconnects only when
// malloc fails; the memory of a client that never reads grows until then.
// Measured (TestSlowTrackersAgainstCorosync): four trackers that never
// read and 40,000 SETs grow corosync 3.1.7's RSS by about 59 MB, all four
// still connected. (Issue 9 part 7b says corosync keeps such a client with
// bounded memory; the real corosync keeps it, but not its memory bounded.)
// Keeping the client while dropping events that do not fit would break
// what cmap and cpg promise a client, every change in order (a tracker
// that silently misses a change acts on stale state), so needle does not
// drop events: it ends the connection the client can no longer follow, and
// the client resyncs on reconnect.

// eventOverhead is what one queued event costs beyond its buffer: its
// slot in the queue slice and the allocator's rounding.
const eventOverhead = 64

// eventCost is the accounted size of one queued event.
func eventCost(msg []byte) int64 { return int64(cap(msg)) + eventOverhead }

// eventCostLen is eventCost of an exact-size copy of n bytes.
func eventCostLen(n int) int64 { return int64(n) + eventOverhead }

// EventBudget bounds the bytes of events queued for all connections of the
// Servers that share it (Config.EventBudget). Safe for concurrent use.
type EventBudget struct {
	limit int64

	mu    sync.Mutex
	used  int64
	conns map[*Conn]struct{}

	shedMu sync.Mutex // one eviction at a time: never drop two clients where one suffices
}

// NewEventBudget returns a budget of limit bytes.
func NewEventBudget(limit int) *EventBudget {
	if limit <= 0 {
		panic(fmt.Sprintf("qbipc: event budget of %d bytes", limit))
	}
	return &EventBudget{limit: int64(limit), conns: map[*Conn]struct{}{}}
}

// Limit is the budget in bytes.
func (b *EventBudget) Limit() int { return int(b.limit) }

// Used is the bytes of events queued now, as accounted (see eventCost).
func (b *EventBudget) Used() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(b.used)
}

func (b *EventBudget) join(c *Conn) {
	b.mu.Lock()
	b.conns[c] = struct{}{}
	b.mu.Unlock()
}

func (b *EventBudget) leave(c *Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
}

// reserve takes n bytes if they fit.
func (b *EventBudget) reserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

// charge takes n bytes whether or not they fit: the events of adopted
// connections, which their predecessor had accepted within a budget of
// its own. Events sent from then on shed the hogs as usual.
func (b *EventBudget) charge(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used += n
}

// release returns n bytes. Accounting below zero is a bug: it panics.
func (b *EventBudget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if b.used < 0 || n < 0 {
		panic(fmt.Sprintf("qbipc: event budget accounting broken: released %d, now %d", n, b.used))
	}
}

// hog is the connection with queued events that has gone longest without
// taking one (the client least likely to be reading), the one holding the
// most bytes among equals; nil if nothing is queued.
func (b *EventBudget) hog() (*Conn, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var top *Conn
	var held, since int64
	for c := range b.conns {
		n, s := c.evAcct.Load(), c.evSince.Load()
		if n == 0 || s == 0 {
			continue
		}
		if top == nil || s < since || s == since && n > held {
			top, held, since = c, n, s
		}
	}
	return top, held
}

// reserveFor takes n bytes for an event to c, dropping the connections
// with the largest queues until it fits. It fails (and c is closed) when c
// itself is dropped, or when nothing is queued and n still does not fit.
func (b *EventBudget) reserveFor(c *Conn, n int64) error {
	if b.reserve(n) {
		return nil
	}
	b.shedMu.Lock()
	defer b.shedMu.Unlock()
	for !b.reserve(n) {
		hog, held := b.hog()
		if hog == nil { // nothing to free: the event is larger than the whole budget
			c.drop("its event does not fit the event budget", "event_bytes", n, "budget_bytes", b.limit)
			return fmt.Errorf("event of %d bytes does not fit the event budget of %d bytes: %w", n, b.limit, ErrClosed)
		}
		hog.drop("it is not reading its events and the event budget is exhausted",
			"queued_bytes", held, "budget_bytes", b.limit, "budget_used_bytes", b.Used())
		if hog == c {
			return fmt.Errorf("event budget of %d bytes exhausted, and this client held the most (%d bytes): %w", b.limit, held, ErrClosed)
		}
	}
	return nil
}

// drop disconnects c for not keeping up, with a warning naming the client.
func (c *Conn) drop(why string, attrs ...any) {
	attrs = append(attrs, "comm", ProcComm(c.creds.PID), "cmd", procCmd(c.creds.PID))
	c.log.Warn("dropping client: "+why, attrs...)
	c.Close()
}

// ProcComm is a client's process name as libqb records it
// (/proc/<pid>/comm: at most 15 bytes), or "?" once it is gone.
func ProcComm(pid int32) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// procCmd is a client's program as started (argv[0] of
// /proc/<pid>/cmdline, untruncated), so a log names it where comm cuts
// it short ("corosync-cmapct"); "?" once it is gone.
func procCmd(pid int32) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return "?"
	}
	arg0, _, _ := strings.Cut(string(b), "\x00")
	return arg0
}
