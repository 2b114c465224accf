// Package stack is totemd's node as a value: the Totem ring (srp), its
// packing and groups (pg), the service sync coordinator (syncengine) and
// the decisions of the service bus (which daemon gets which delivery,
// configuration change and sync step; which multicast is accepted, held
// for room or refused with TryAgain; where a request between services
// goes), behind one interface in the style of etcd raft's RawNode:
//
//	st.Step(now, ev)        // a datagram, a timer, a bus message, ...
//	rd := st.Ready()        // what to do: datagrams, bus messages, ...
//	...carry rd out...      // persist the ring seq, send, write the bus
//	st.Advance(rd)          // rd's deliveries go through pg and sync
//
// and NextDeadline for the timer. The stack never touches a socket, a
// clock or a goroutine: time comes in with every Step, and a daemon's
// session is an opaque, comparable Session the driver picks (totemd's
// node loop uses *bus.Service, the simulator its simulated daemons). So
// the same stack runs in totemd and, deterministically, in the
// simulator.
//
// The cfg service's core (corosync-cfgtool's service, package cfg) is
// part of the stack too (Config.Cfg, cfg.go): its ring messages, its
// multicasts and its shutdown-vote timer never leave the stack, so the
// simulator runs it like the rest. Its clients' connections and requests
// come in as events (CfgConnect, CfgRequest, ...) from the driver, which
// keeps the libqb endpoint; what cfg asks of the world (a reply on a
// connection, a config reload, reopened logs, the end of the process)
// comes out as OutCfgAction, in its place in the stream of outputs.
// Requests and responses addressed to totemd itself (cmapd's hello and
// notifications, answers to totemd's own requests) are likewise handed
// to the driver (OutSelf).
package stack

import (
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
	"github.com/needle-cluster/needle/services/totemd/internal/pload"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/syncengine"
)

// Session is one attached daemon's session as the driver knows it. The
// stack only compares sessions (==) and names them in its outputs, so a
// Session must be comparable: a pointer in practice.
type Session any

// Config builds a Stack.
type Config struct {
	// SRP is the ring's configuration, RingSeq loaded by the driver; the
	// token hooks are the stack's own (any set here are replaced).
	SRP     srp.Config
	Logger  hclog.Logger // MAIN: attach, detach, memberships
	SyncLog hclog.Logger // SYNC
	// Cfg enables the cfg service (cfg.go). Without it cfg's ring
	// messages are dropped and its events refused.
	Cfg CfgConfig
	// Pload enables the pload service (pload.go).
	Pload bool
}

// Membership is the ring as the stack last installed it.
type Membership struct {
	Ring    srp.RingID
	Members []srp.NodeID
	Synced  bool // the service sync after the last change has completed
}

// Stack is one totemd node: every decision, none of the I/O.
type Stack struct {
	cfg  Config
	log  hclog.Logger
	slog hclog.Logger
	now  srp.Time // of the last Step: the time Advance works in

	srp    *srp.Node
	packer *pg.Packer
	recv   *pg.Receiver
	groups pg.Groups
	sync   *syncengine.Engine
	cfgs   *cfgState   // nil without Config.Cfg.Enabled
	pload  *pload.Core // nil without Config.Pload

	held    []heldDelivery // service deliveries held until the ring's views (syncengine.HoldDeliveries)
	holding bool
	outbox  [][]byte // sync messages waiting for room in the queue
	outboxA [][]byte // service-group messages of totemd's own services (cfg), likewise
	unsent  [][]byte // repackStraddle's buffer for the frames taken back from srp

	ring    srp.RingID
	members []srp.NodeID
	synced  bool

	services    map[uint16]Session    // the attached daemons by service id
	refused     map[uint16]uint64     // per service: ID of the mcast refused with TryAgain, until it is sent again
	waiting     map[uint16]*mcastWait // per service: multicasts waiting for room in srp's queue (mcast.go)
	gated       map[uint16]bool       // services in their sync round: ordinary multicasts refused (gate.go)
	refusedSync map[uint16]uint64     // per service: ID of the sync message refused with TryAgain
	idBuf       []uint16              // sortedIDs' buffer
	// groupA and groupSync name the totempg groups a multicast goes to:
	// built once, as a literal per call escapes into the packer and costs
	// an allocation per multicast. Never written after New.
	groupA, groupSync []string

	// outs are the outputs since the last Ready; spare is the buffer the
	// Ready before handed out, reused once Advance gave it back.
	outs, spare []Out
	views       []Membership
}

// heldDelivery is a service message waiting for its ring's views.
type heldDelivery struct {
	svc uint16
	msg *ipcproto.Msg
}

// New builds the cores.
func New(cfg Config) (*Stack, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.SyncLog == nil {
		cfg.SyncLog = cfg.Logger.Named("SYNC")
	}
	s := &Stack{cfg: cfg, log: cfg.Logger, slog: cfg.SyncLog,
		services: map[uint16]Session{}, refused: map[uint16]uint64{}, waiting: map[uint16]*mcastWait{},
		gated: map[uint16]bool{}, refusedSync: map[uint16]uint64{},
		groupA: []string{"a"}, groupSync: []string{"sync"}}
	sc := cfg.SRP
	sc.OnTokenReceived = s.onTokenReceived
	sc.OnTokenSent = s.onTokenSent
	var err error
	if s.srp, err = srp.New(sc); err != nil {
		return nil, fmt.Errorf("totem: %w", err)
	}
	s.packer, err = pg.NewPacker(pg.Config{
		NetMTU: sc.NetMTU,
		Mcast:  func(f []byte) error { return s.srp.Mcast(s.now, f) },
		Signal: func() { s.srp.Signal(s.now) },
		Avail:  s.srp.Avail,
	})
	if err != nil {
		return nil, fmt.Errorf("totempg: %w", err)
	}
	s.recv = pg.NewReceiver(s.groups.Deliver)
	if err := s.groups.Join(s.deliverService, "a"); err != nil {
		return nil, fmt.Errorf("totempg group a: %w", err)
	}
	if err := s.groups.Join(s.deliverSync, "sync"); err != nil {
		return nil, fmt.Errorf("totempg group sync: %w", err)
	}
	s.sync, err = syncengine.New(syncengine.Config{Self: uint32(sc.Self), Announce: syncengine.DefaultAnnounce()})
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	s.newCfg()
	if cfg.Pload {
		s.pload = pload.New()
	}
	return s, nil
}

// Self is this node's id.
func (s *Stack) Self() srp.NodeID { return s.cfg.SRP.Self }

// NextDeadline is when the stack wants a Tick, if at all: srp's next
// timer or cfg's shutdown-vote timer, whichever comes first.
func (s *Stack) NextDeadline() (srp.Time, bool) {
	at, ok := s.srp.NextDeadline()
	if c, cok := s.cfgDeadline(); cok && (!ok || c < at) {
		return c, true
	}
	return at, ok
}

// Membership is the ring last installed (Views reports each as it comes).
func (s *Stack) Membership() Membership {
	return Membership{Ring: s.ring, Members: slices.Clone(s.members), Synced: s.synced}
}

// Reachable says whether id is a member of the current ring.
func (s *Stack) Reachable(id srp.NodeID) bool { return slices.Contains(s.members, id) }

// Status is srp's status snapshot.
func (s *Stack) Status() srp.Status { return s.srp.Status() }

// Avail is the free room in srp's new-message queue.
func (s *Stack) Avail() int { return s.srp.Avail() }

// PacketSize is the payload room of one totempg frame.
func (s *Stack) PacketSize() int { return s.packer.PacketSize() }

// Tunables are the totem settings in force.
func (s *Stack) Tunables() srp.Tunables { return s.srp.Tunables() }

// SetTunables changes the totem settings (a reload).
func (s *Stack) SetTunables(t srp.Tunables) error { return s.srp.SetTunables(t) }

// SetNodes changes the nodelist (a reload).
func (s *Stack) SetNodes(nodes []srp.NodeID) error { return s.srp.SetNodes(nodes) }

// Attached is the session of service id's daemon, nil when none is.
func (s *Stack) Attached(id uint16) Session { return s.services[id] }

// Services are the attached daemons' sessions by service id.
func (s *Stack) Services() iter.Seq2[uint16, Session] { return maps.All(s.services) }

// Waiting is how many multicasts of service id wait for room in srp's
// queue, unacknowledged.
func (s *Stack) Waiting(id uint16) int {
	if w := s.waiting[id]; w != nil {
		return len(w.items) - w.first
	}
	return 0
}
