package stack

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// CfgConfig enables the cfg service (corosync-cfgtool's) inside the
// stack: its core (package cfg) gets its ring messages, its multicasts
// go to the ring and its shutdown-vote timer is part of NextDeadline, all
// here; what it asks of the world (replies to clients, a reload, reopened
// logs, the end of the process) comes out as OutCfgAction.
type CfgConfig struct {
	Enabled bool
	// Nodelist is every configured node's addresses by link: cfg answers
	// node addresses and status from the nodelist, as corosync 3.1.7
	// does. SetCfgNodelist replaces it after a reload.
	Nodelist map[uint32][]netip.Addr
	// ShutdownTimeout is cfg.shutdown_timeout when configured (nil: cfg's
	// default).
	ShutdownTimeout *time.Duration
	// Observe, when set, sees each cfg ring message as the core gets it,
	// with the ring it was delivered in (the last regular one: a
	// transitional delivery belongs to the ring it was sent in). For the
	// simulator's checker; it must not call back into the stack.
	Observe func(ring srp.RingID, from uint32, msg []byte, swapped bool)
}

// cfgState is the stack's cfg service: the core, its timer and what it
// asks the stack about the node.
type cfgState struct {
	svc *cfg.Service
	// timer is the core's shutdown-vote timer (cfg.StartTimer), fired by
	// a Tick at or after at.
	timerGen uint64
	timerAt  srp.Time
	timerSet bool
	// everSeen are the nodes ever a member of an installed ring: cfg's
	// "left" status (runtime.members.N.status) for one gone since.
	everSeen map[uint32]bool
}

func (s *Stack) newCfg() {
	if !s.cfg.Cfg.Enabled {
		return
	}
	s.cfgs = &cfgState{everSeen: map[uint32]bool{}}
	s.cfgs.svc = cfg.New(cfgStatus{s})
}

// SetCfgNodelist replaces the nodelist cfg answers from (a reload).
func (s *Stack) SetCfgNodelist(nodes map[uint32][]netip.Addr) { s.cfg.Cfg.Nodelist = nodes }

// CfgConnectEvent is a new cfg client connection c (it passed the
// endpoint's rules). Step refuses a connection id already registered.
func CfgConnectEvent(c cfg.ConnID) Event { return Event{Kind: CfgConnect, Conn: c} }

// CfgRequestEvent is request msg (16-byte header first) of connection c.
func CfgRequestEvent(c cfg.ConnID, msg []byte) Event {
	return Event{Kind: CfgRequest, Conn: c, Payload: msg}
}

// CfgDisconnectEvent is the end of connection c.
func CfgDisconnectEvent(c cfg.ConnID) Event { return Event{Kind: CfgDisconnect, Conn: c} }

// CfgReloadDoneEvent reports the result of OutCfgAction cfg.Reload seq.
func CfgReloadDoneEvent(seq uint64, result cs.Error) Event {
	return Event{Kind: CfgReloadDone, Seq: seq, Result: result}
}

// CfgReopenLogsDoneEvent reports the result of OutCfgAction
// cfg.ReopenLogs for connection c.
func CfgReopenLogsDoneEvent(c cfg.ConnID, result cs.Error) Event {
	return Event{Kind: CfgReopenLogsDone, Conn: c, Result: result}
}

// stepCfg handles the cfg events of Step.
func (s *Stack) stepCfg(ev Event) error {
	if s.cfgs == nil {
		return fmt.Errorf("stack: %v without the cfg service", ev.Kind)
	}
	svc := s.cfgs.svc
	switch ev.Kind {
	case CfgConnect:
		if err := svc.Connect(ev.Conn); err != nil {
			return fmt.Errorf("stack: %w", err)
		}
	case CfgRequest:
		acts, err := svc.Request(ev.Conn, ev.Payload)
		s.cfgApply(acts)
		if err != nil {
			// Answered already (cfg's generic error): for the log only.
			return fmt.Errorf("stack: %w", err)
		}
	case CfgDisconnect:
		s.cfgApply(svc.Disconnect(ev.Conn))
	case CfgReloadDone:
		acts, err := svc.ReloadDone(ev.Seq, ev.Result, false)
		s.cfgApply(acts)
		if err != nil {
			return fmt.Errorf("stack: %w", err)
		}
	case CfgReopenLogsDone:
		// Every attached daemon of the node reopens its files too.
		for _, id := range sortedIDs(&s.idBuf, s.services) {
			s.send(s.services[id], &ipcproto.Msg{Kind: ipcproto.KindReopenLogs})
		}
		s.cfgApply(svc.ReopenLogsDone(ev.Conn, ev.Result))
	}
	return nil
}

// deliverCfg hands a cfg ring message to the core.
func (s *Stack) deliverCfg(from uint32, body []byte, swapped bool) {
	if s.cfgs == nil {
		return
	}
	if obs := s.cfg.Cfg.Observe; obs != nil {
		obs(s.ring, from, body, swapped)
	}
	acts, err := s.cfgs.svc.Deliver(from, body, swapped)
	if err != nil {
		s.log.Debug("cfg message dropped", "from", from, "error", err)
	}
	s.cfgApply(acts)
}

// cfgApply carries out the core's actions: its multicasts and its timer
// are the stack's own; everything else is the driver's, in order.
func (s *Stack) cfgApply(acts []cfg.Action) {
	c := s.cfgs
	for _, a := range acts {
		switch a := a.(type) {
		case cfg.Multicast:
			// The core's buffer is its own; the outbox keeps it until
			// the ring takes it.
			s.outboxA = append(s.outboxA, slices.Clone(a.Msg))
			s.pushOutbox()
		case cfg.StartTimer:
			c.timerGen, c.timerAt, c.timerSet = a.Gen, s.now+a.After, true
		case cfg.StopTimer:
			if c.timerSet && c.timerGen == a.Gen {
				c.timerSet = false
			}
		default:
			s.outs = append(s.outs, Out{Kind: OutCfgAction, Cfg: a})
		}
	}
}

// cfgTick fires the core's timer when its time has come.
func (s *Stack) cfgTick() {
	c := s.cfgs
	if c == nil || !c.timerSet || s.now < c.timerAt {
		return
	}
	c.timerSet = false
	s.cfgApply(c.svc.TimerExpired(c.timerGen))
}

// cfgDeadline is the core's timer, if armed.
func (s *Stack) cfgDeadline() (srp.Time, bool) {
	if s.cfgs == nil || !s.cfgs.timerSet {
		return 0, false
	}
	return s.cfgs.timerAt, true
}

// cfgSeen records a regular ring's members for cfg's "left" status.
func (s *Stack) cfgSeen(members []srp.NodeID) {
	if s.cfgs == nil {
		return
	}
	for _, m := range members {
		s.cfgs.everSeen[uint32(m)] = true
	}
}

// cfgStatus answers the cfg core's questions from the stack's state and
// configuration.
type cfgStatus struct{ s *Stack }

func (c cfgStatus) LocalNodeID() uint32 { return uint32(c.s.cfg.SRP.Self) }

func (c cfgStatus) NodeLinks(id uint32) []cfg.LinkAddr {
	addrs, ok := c.s.cfg.Cfg.Nodelist[id]
	if !ok {
		return nil
	}
	out := make([]cfg.LinkAddr, 0, len(addrs))
	for i, a := range addrs {
		if a.IsValid() {
			out = append(out, cfg.LinkAddr{Link: uint8(i), Addr: a})
		}
	}
	return out
}

func (c cfgStatus) Reachable(id uint32) bool { return c.s.Reachable(srp.NodeID(id)) }

func (c cfgStatus) LinkEnabled() bool { return true }

func (c cfgStatus) NetMTU() uint32 { return uint32(c.s.PacketSize() + pg.FrameHeaderSize) }

func (c cfgStatus) MemberStatus(id uint32) (string, bool) {
	if c.Reachable(id) {
		return "joined", true
	}
	if c.s.cfgs.everSeen[id] {
		return "left", true
	}
	return "", false
}

func (c cfgStatus) ShutdownTimeoutMs() (uint32, bool) {
	if d := c.s.cfg.Cfg.ShutdownTimeout; d != nil {
		return uint32(d.Milliseconds()), true
	}
	return 0, false
}

func (c cfgStatus) SendingAllowed() bool { return c.s.synced && c.s.srp.Avail() > 0 }
