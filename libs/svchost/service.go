// Package svchost runs one Corosync service engine as a needle service
// daemon. A daemon (cmapd, quorumd, cpgd) is its pure core, its wire
// codec, its client package and a small adapter implementing Service; the
// host supplies everything else: the urfave command line (-f, -c FILE,
// --bus PATH, exit codes as corosync), logsys from logging {}, signals and
// an orderly drain, the owner goroutine, the bus attachment to totemd with
// reconnect and backoff, the pipelined multicast window with the TryAgain
// rewind, the sync callbacks, the libqb endpoints (immediate or deferred
// responses, per-connection stats, live uidgid rules) and a mirror of
// tracked cmap prefixes.
//
// Threading: every Service method, every Host method and every Client
// method is called on the host's single owner goroutine. A Service never
// starts goroutines and never blocks; what it must do later it asks the
// host for (Host.After, the done callbacks). Done callbacks never run
// inside the call that registered them: they are posted to the owner
// (exception: the CmapMirror of a CmapOwner, cmapd's own map, may finish
// Set and Delete at once).
//
// Clients: a libqb client's next request is read only once its current
// one was answered (Client.Respond, at once or later, or Client.NoReply),
// as libqb clients wait for each answer anyway. A daemon other than cmapd
// publishes each client's stats.ipcs.service<S>.<pid>.<conn>.* keys into
// cmapd's stats map (S is the id named like the endpoint: "quorum" 3,
// "votequorum" 5, "cpg" 2).
//
// Multicasts: Host.Mcast never refuses and never drops: a TryAgain from
// totemd stalls the queue, which resends from the refused message in
// order; only a lost bus fails what was not accepted (ErrLibrary). A
// service answers its clients CS_ERR_TRY_AGAIN while Host.Congested.
// What a service multicasts while processing a round (from SyncProcess
// until it is done: SyncProcess returned true or Host.SyncDone) are its
// sync messages, a stream of their own; everything else is ordinary.
// totemd refuses ordinary multicasts from the start of the service's
// round until its SyncActivate (libs/ipcproto's doc), so sync messages go
// ahead of ordinary ones queued earlier and not yet accepted; each stream
// keeps its own order. SyncDone reaches totemd only after every sync
// message of the round was accepted by the ring.
//
// Entry points: Main (the whole daemon from its command line), New + Run
// (the same without the command line, for tests and embedding), and the
// parts usable on their own by a process that is not a bus client
// (totemd's cfg): Endpoint (a libqb endpoint on an owner loop), UIDGID
// (the live uidgid rules over any key source) and Mirror (a local copy of
// cmap keys with change events).
//
// The interface keeps Corosync's engine shape (exec/service.h): confchg,
// deliver, sync init/process/activate/abort, client
// connect/request/disconnect, plus a tick.
package svchost

import (
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/libs/qbipc"
)

// Service is one Corosync service engine hosted by a daemon.
type Service interface {
	// Attached is called each time the daemon (re)attaches to totemd:
	// h stays valid until Detached. a carries the node id, the current
	// ring and the current service membership. A service that lost
	// totemd must rebuild its view from here and from the sync round
	// that follows.
	Attached(h Host, a Attachment)
	// Detached: the bus connection to totemd is gone. Multicasts not yet
	// accepted by the ring and bus requests not yet answered were failed
	// (their done got ErrLibrary); a sync round in progress got SyncAbort
	// first.
	Detached()

	// ConfChg is a configuration change: Transitional then Regular, as in
	// extended virtual synchrony, when the ring changes and when this
	// service's membership changes inside a ring (its daemon attached or
	// detached on some node: both changes carry the current ring id and a
	// ServiceSync round follows). Members, Left and Joined are the service
	// membership (ring members whose daemon for this service is attached;
	// real corosync nodes always count as attached); RingMembers is the
	// whole ring. A ring's Regular change comes before its SyncInit and
	// before any of its deliveries (libs/ipcproto's package doc).
	ConfChg(c ipcproto.Conf)
	// Deliver is one message of this service in agreed order (its
	// payload begins with corosync's 8-byte exec header).
	Deliver(from uint32, payload []byte, swapped bool)

	// SyncInit starts a sync round (corosync's sync_init).
	SyncInit(r SyncRound)
	// SyncProcess asks the service to multicast its sync messages. It
	// returns true when it is done now; false means it will call
	// Host.SyncDone(r) later (e.g. after its multicasts were accepted).
	// The host only reports done after every sync message (see
	// Host.Mcast) was accepted by the ring; ordinary multicasts queued
	// earlier are not waited for (totemd takes them after SyncActivate).
	SyncProcess(r SyncRound) bool
	// SyncActivate ends the round on every member at once.
	SyncActivate(r SyncRound)
	// SyncAbort cancels the round in progress (a new ring interrupted it).
	SyncAbort()

	// Connect is a new libqb client of one of the service's endpoints,
	// already authorised by the live uidgid rules. A non-nil error refuses
	// it (wrap a syscall.Errno to choose the client's error).
	Connect(c *Client) error
	// Request is one libqb request (msg begins with the 16-byte libqb
	// header). Answer with c.Respond now or later; a non-nil error drops
	// the client.
	Request(c *Client, msg []byte) error
	// Disconnect: the client is gone; exactly once per accepted Connect.
	Disconnect(c *Client)

	// Tick is called every Options.TickPeriod (if set), while the
	// Service wants it if it implements TickWanter.
	Tick(now time.Time)
}

// BusServer is implemented by a Service that answers requests other
// services send it through totemd (cmapd: the cmap request protocol of
// libs/corotypes/cmapreq). from is the sender's service id (totemd itself
// uses cfg's id, 1). Without it the host answers CS_ERR_NOT_SUPPORTED.
type BusServer interface {
	BusRequest(from uint16, payload []byte) (cs.Error, []byte)
}

// CmapFollower is implemented by a Service that writes keys into cmap
// (runtime.*, statistics): CmapReady is called each time cmapd answered
// the tracking of every mirrored prefix — after each attach, and after
// each restart of cmapd, whose new map has none of those keys — so the
// service writes them again. The mirror is current when it is called.
type CmapFollower interface {
	CmapReady()
}

// CmapOwner is implemented by the Service that owns the cmap (cmapd):
// the host then serves Host.Cmap and the uidgid rules from the returned
// mirror instead of tracking prefixes through the bus (a round trip to
// itself). Called once, after New.
type CmapOwner interface {
	OwnCmap() CmapMirror
}

// Attachment describes the bus session that just started.
type Attachment struct {
	NodeID uint32
	// Ring is the current ring (zero before the first ring formed).
	Ring ipcproto.Ring
	// RingMembers are the ring's members; ServiceMembers those with this
	// service attached, as the daemons attached elsewhere were last told
	// (between a ring change and its service views: the transitional
	// view). This daemon is not among them until the ConfChg of its own
	// attach; a node may still be listed while the detach of its previous
	// daemon is on its way.
	RingMembers, ServiceMembers []uint32
}

// SyncKind says why a sync round runs (ipcproto's SyncKind, from
// KindSyncInit).
type SyncKind = ipcproto.SyncKind

const (
	// FullSync follows a ring change (corosync's sync): every ring member
	// takes part, real corosync nodes included.
	FullSync = ipcproto.SyncFull
	// ServiceSync follows this service's daemon attaching or detaching on
	// some node; only needle nodes take part. The configuration changes
	// of the new service membership (ConfChg) come right before it.
	ServiceSync = ipcproto.SyncService
)

// SyncRound identifies one sync round in the callbacks.
type SyncRound struct {
	ID   uint64
	Kind SyncKind
	Ring ipcproto.Ring
	// Members is the membership being synced (ring members for FullSync,
	// the new service membership for ServiceSync); Trans the members that
	// were already in the previous configuration.
	Members, Trans []uint32
}

// Host is what a Service may ask of its daemon; every call is on the owner
// goroutine. One Host serves the daemon's whole life (Config.Host and
// every Attached get the same value); while detached, Mcast and Request
// fail with ErrLibrary (through their done) and the rest works.
type Host interface {
	// NodeID is this node's Totem node id.
	NodeID() uint32
	// Mcast queues payload (beginning with the exec header) for the ring
	// in agreed order. A multicast queued while the service processes a
	// round (inside SyncProcess, or after it returned false and before
	// SyncDone) is a sync message; any other is ordinary. Sync messages
	// leave in the order queued, ordinary ones likewise; a sync message
	// may overtake ordinary ones queued before it that totemd has not
	// accepted yet (it accepts ordinary ones only outside the service's
	// rounds, so those wait for SyncActivate). done (may be nil) runs once
	// with cs.OK when the ring accepted it, or with the refusal
	// (ErrTooBig, or ErrLibrary when the bus went away). A TryAgain from
	// totemd is retried by the host, never surfaced here.
	Mcast(payload []byte, done func(cs.Error))
	// Backlog is the number of queued multicasts not yet accepted: the
	// service answers its clients CS_ERR_TRY_AGAIN where corosync would
	// (Congested says when Backlog reached Options.MaxBacklog). The host
	// itself never refuses or drops a multicast it took.
	Backlog() int
	// Congested reports Backlog() >= Options.MaxBacklog, or no bus.
	Congested() bool
	// SyncDone reports that the service finished SyncProcess for r.
	SyncDone(r SyncRound)
	// Request sends a request to another service on this node through
	// totemd (e.g. a cmapreq batch to cmap, service 0); done (may be nil)
	// gets the response's status and payload, or ErrLibrary if the bus
	// went away first, or ErrNotExist from totemd when that service's
	// daemon is not attached.
	Request(service uint16, payload []byte, done func(cs.Error, []byte))
	// Cmap is the mirror of the cmap prefixes named in Options.CmapPrefixes.
	Cmap() CmapMirror
	// After runs f on the owner goroutine after d, unless cancelled.
	After(d time.Duration, f func()) (cancel func())
	// Logger returns the daemon's logger for a subsystem (logsys names).
	Logger(subsys string) hclog.Logger
	// Fatal stops the daemon after an orderly drain; Main exits with
	// status 1 (corosync's exit after e.g. a config_version mismatch).
	Fatal(err error)
}

// CmapMirror is a local copy of tracked cmap prefixes, kept current by
// cmapd's change events.
type CmapMirror interface {
	// Get returns the current value of key, if present (icmap only).
	Get(key string) (CmapValue, bool)
	// Keys lists the present keys below prefix, sorted.
	Keys(prefix string) []string
	// Watch calls f on the owner goroutine after every change below
	// prefix (one call per committed change of cmapd, with every key
	// that changed in it), including the initial load and the reload
	// after a cmapd restart (keys that differ). Watches accumulate:
	// register each once (in New through Config.Host), not in Attached.
	Watch(prefix string, f func(changed []string))
	// Set writes key through cmapd; done may be nil.
	Set(key string, v CmapValue, done func(cs.Error))
	// Delete removes key through cmapd; done may be nil.
	Delete(key string, done func(cs.Error))
}

// CmapValue is a typed cmap value (the shared value model of
// libs/corotypes).
type CmapValue = value.Value

// Options configure a daemon.
type Options struct {
	// Program is the daemon's name (cli, logs, errors), e.g. "quorumd".
	Program string
	// Usage is the one-line cli usage text.
	Usage string
	// Service is the Corosync service id the daemon attaches as.
	Service uint16
	// Name is the name it attaches under; "" means Endpoints[0], else
	// Program.
	Name string
	// Endpoints are the libqb service names served, e.g. {"quorum",
	// "votequorum"}.
	Endpoints []string
	// CmapPrefixes are mirrored from cmapd (e.g. "quorum.", "nodelist.");
	// "uidgid." is always mirrored (the live uidgid rules).
	CmapPrefixes []string
	// TickPeriod is the Tick interval; 0 means no ticks.
	TickPeriod time.Duration
	// MaxBacklog is where Host.Congested starts; 0 means 1024.
	MaxBacklog int
	// Window is how many multicasts may await totemd's ack at once; 0
	// means 64.
	Window int
	// Transport is the libqb transport offered; nil means the
	// configuration's system.qb_ipc_type (default shm, "native").
	Transport *qbipc.Transport
	// New builds the service once the configuration is loaded.
	New func(cfg Config) (Service, error)
}

// Config is what the host loaded before New.
type Config struct {
	// Path is the corosync.conf in use.
	Path string
	// Keys are the typed keys of the file (coroconf.Load, uidgid.d
	// included), as the daemon started.
	Keys coroconf.Map
	// Log is the daemon's main logger (subsystem Options.Program in upper
	// case unless the service picks its own through Host.Logger).
	Log hclog.Logger
	// Logs are the daemon's log sinks (a reload re-applies logging.*).
	Logs *logsys.Logsys
	// MetricsAddr, when set, is where Run serves Prometheus metrics
	// (host:port): --metrics, else MetricsKey in the file.
	MetricsAddr string
	// Host is the daemon's Host, the same value Attached gets.
	Host Host
	// Loop and Done are for a service that has an input of its own (cmapd
	// watches corosync.conf): its goroutine hands events to the owner with
	// Loop.Post and ends when Done is closed (Run returned). A service
	// without such an input ignores both.
	Loop Loop
	Done <-chan struct{}
}
