package cfg

import "time"

// ConnID names a client connection. The driver chooses it (e.g. the
// qbipc connection id); it also travels in RELOAD_CONFIG's source cookie.
type ConnID uint64

// Action is something the driver must do, in the order returned.
type Action interface{ isAction() }

// Respond sends Msg as the response on connection Conn. Deferred
// responses (TRYSHUTDOWN, RELOAD_CONFIG, REOPEN_LOG_FILES) come out of
// later events; each request is answered exactly once.
type Respond struct {
	Conn ConnID
	Msg  []byte
}

// SendEvent queues Msg on connection Conn's event channel.
type SendEvent struct {
	Conn ConnID
	Msg  []byte
}

// Multicast sends Msg (a cfg ring message) to the ring with SAFE
// delivery; it comes back through Deliver on every node, this one too.
type Multicast struct{ Msg []byte }

// StartTimer arms the shutdown-vote timer; when it fires call
// TimerExpired(Gen). A new StartTimer replaces the old one.
type StartTimer struct {
	Gen   uint64
	After time.Duration
}

// StopTimer disarms the timer with generation Gen (if still armed).
type StopTimer struct{ Gen uint64 }

// Reload asks the node's config owner to re-read corosync.conf and apply
// it (spec/cfg.md §4, cmap.md §10), then call ReloadDone(Seq, …).
// Requester is the node whose client asked.
type Reload struct {
	Seq       uint64
	Requester uint32
}

// CryptoPhase tells the transport to advance a crypto key change
// (CryptoPhaseActivate: use the new key; CryptoPhaseCleanup: drop the old).
type CryptoPhase struct{ Phase uint32 }

// ReopenLogs asks the logging layer to reopen its files, then call
// ReopenLogsDone(Conn, result).
type ReopenLogs struct{ Conn ConnID }

// Log is a line for the CFG log subsystem.
type Log struct {
	Level Level
	Msg   string
}

// Exit terminates the daemon at once with Status, without leaving the
// ring (KILLNODE: corosync's fatal-error path, status -1 → 255).
type Exit struct{ Status int }

// Shutdown starts this node's orderly shutdown: unload services, leave
// the ring, exit 0.
type Shutdown struct{}

func (Respond) isAction()     {}
func (SendEvent) isAction()   {}
func (Multicast) isAction()   {}
func (StartTimer) isAction()  {}
func (StopTimer) isAction()   {}
func (Reload) isAction()      {}
func (CryptoPhase) isAction() {}
func (ReopenLogs) isAction()  {}
func (Log) isAction()         {}
func (Exit) isAction()        {}
func (Shutdown) isAction()    {}

// Level is a log priority.
type Level int

// Log levels cfg uses.
const (
	LevelDebug Level = iota
	LevelNotice
	LevelError
)

func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelNotice:
		return "notice"
	case LevelError:
		return "error"
	}
	return "level?"
}
