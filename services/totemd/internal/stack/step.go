package stack

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/pload"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// EventKind says what an Event is.
type EventKind uint8

const (
	// Start starts the ring (once, before anything else).
	Start EventKind = iota + 1
	// Datagram is one received frame (Frame).
	Datagram
	// Tick is time passing: the driver's timer for NextDeadline fired.
	Tick
	// Bus is a message (Msg) of an attached daemon's session (Session,
	// Service, Name), or with Msg nil the end of that session (Err says
	// why; nil: it detached).
	Bus
	// Leave multicasts the leave message: the node stops.
	Leave
	// CfgConnect is a new client connection (Conn) of the cfg service;
	// Step refuses one already registered.
	CfgConnect
	// CfgRequest is a request (Payload) of cfg client Conn.
	CfgRequest
	// CfgDisconnect is the end of cfg client Conn.
	CfgDisconnect
	// CfgReloadDone is the Result of the cfg.Reload Seq the driver was
	// asked to carry out.
	CfgReloadDone
	// CfgReopenLogsDone is the Result of the cfg.ReopenLogs for Conn the
	// driver was asked to carry out.
	CfgReopenLogsDone
	// PloadConfigured carries the pload.* cmap keys (Pload) after a
	// change below pload. or their first reading.
	PloadConfigured
)

// Event is one input. It is a struct, not an interface, so that a
// datagram or a multicast costs no allocation on its way in.
type Event struct {
	Kind    EventKind
	Frame   []byte         // Datagram
	Session Session        // Bus
	Service uint16         // Bus: the session's service id
	Name    string         // Bus: the service's name, for logs
	Msg     *ipcproto.Msg  // Bus: nil when the session ended
	Err     error          // Bus: why the session ended
	Payload []byte         // CfgRequest
	Conn    cfg.ConnID     // CfgConnect, CfgRequest, CfgDisconnect, CfgReopenLogsDone
	Seq     uint64         // CfgReloadDone
	Result  cs.Error       // CfgReloadDone, CfgReopenLogsDone
	Pload   pload.Settings // PloadConfigured
}

// BusEvent is a message m of session ses of service id.
func BusEvent(ses Session, id uint16, name string, m *ipcproto.Msg) Event {
	return Event{Kind: Bus, Session: ses, Service: id, Name: name, Msg: m}
}

// BusEnded is the end of session ses of service id.
func BusEnded(ses Session, id uint16, name string, err error) Event {
	return Event{Kind: Bus, Session: ses, Service: id, Name: name, Err: err}
}

// Step handles one input at time now. The error is a datagram's that srp
// dropped, or a cfg event's the cfg core refused (the driver may log it;
// a refused CfgConnect is to be refused to the client); every other
// input is taken, what went wrong logged on the stack's loggers.
func (s *Stack) Step(now srp.Time, ev Event) error {
	if now < s.now {
		panic(fmt.Sprintf("stack: time went back from %v to %v", s.now, now))
	}
	s.now = now
	switch ev.Kind {
	case Start:
		s.srp.Start(now)
	case Datagram:
		if err := s.srp.Receive(now, ev.Frame); err != nil {
			return fmt.Errorf("stack: datagram: %w", err)
		}
	case Tick:
		s.srp.Tick(now)
		s.cfgTick()
	case Bus:
		s.handleBus(ev)
	case Leave:
		s.srp.Leave(now)
	case CfgConnect, CfgRequest, CfgDisconnect, CfgReloadDone, CfgReopenLogsDone:
		return s.stepCfg(ev)
	case PloadConfigured:
		s.stepPload(ev)
	default:
		panic(fmt.Sprintf("stack: unknown event kind %d", ev.Kind))
	}
	return nil
}

// OutKind says what an Out asks of the driver.
type OutKind uint8

const (
	// OutService: send Msg to Session.
	OutService OutKind = iota + 1
	// OutSelf: Msg, a request or response of Session, is addressed to
	// totemd itself (ipcproto's Service 1, cfg); a request is answered
	// to Session.
	OutSelf
	// OutCfgAction: Cfg is what the cfg service asks of the driver: a
	// cfg.Respond or cfg.SendEvent for a client connection, a cfg.Reload
	// (answer with CfgReloadDone), a cfg.ReopenLogs (answer with
	// CfgReopenLogsDone), a cfg.CryptoPhase, a cfg.Log line, a cfg.Exit
	// or a cfg.Shutdown. Never a Multicast or a timer: those are the
	// stack's.
	OutCfgAction
	// OutPload: Pload is what the pload service asks of the driver.
	OutPload
)

// Out is one output for the bus or the driver's own services, in the
// order the stack decided them.
type Out struct {
	Kind    OutKind
	Session Session
	Msg     *ipcproto.Msg
	Cfg     cfg.Action // OutCfgAction
	Pload   *PloadOut  // OutPload
}

// Ready is what the stack wants done, in this order: store the ring
// sequence, send the datagrams, carry out the outputs, publish the
// views; then Advance.
type Ready struct {
	// PersistRingSeq, when non-zero, is the ring sequence to store
	// (ringid) before the Sends go out.
	PersistRingSeq uint64
	Sends          []srp.Send
	Outs           []Out
	// Views are the memberships installed (and the syncs completed)
	// since the last Ready, oldest first.
	Views []Membership
	// Broken, once set, is the invariant srp found broken in its own
	// state (srp.Ready.Broken): the ring's deliveries stopped, the leave
	// message is among the Sends of the Ready that first carries it, and
	// the node does nothing more. The driver carries that Ready out, logs
	// Broken and stops. Empty ignores it (it stays set).
	Broken error

	deliveries []srp.Delivery // for Advance
}

// Empty says there is nothing to do.
func (rd *Ready) Empty() bool {
	return rd.PersistRingSeq == 0 && len(rd.Sends) == 0 && len(rd.Outs) == 0 && len(rd.Views) == 0 &&
		len(rd.deliveries) == 0
}

// Ready returns what the stack wants done. Everything in it stays valid
// until Advance(rd); what Steps or Advance add meanwhile goes into the
// next Ready.
func (s *Stack) Ready() Ready {
	r := s.srp.Ready()
	rd := Ready{PersistRingSeq: r.PersistRingSeq, Sends: r.Sends, Views: s.views, Broken: r.Broken, deliveries: r.Deliveries}
	s.views = nil
	if len(s.outs) > 0 {
		// The outputs' buffer goes out with rd and comes back with
		// Advance, so that new outputs never overwrite rd's; an empty
		// Ready (which drivers need not Advance) keeps it.
		rd.Outs = s.outs
		s.outs, s.spare = s.spare[:0], nil
	}
	return rd
}

// Advance says rd was carried out: its Totem deliveries go through pg to
// the services, the sync engine and cfg, which makes the next Ready's
// outputs. Deliveries can make the sync engine multicast, which srp
// queues for a later token, so Ready and Advance until Ready is Empty
// settles the stack (drivers bound it, Passes).
func (s *Stack) Advance(rd Ready) {
	for _, d := range rd.deliveries {
		if d.Conf != nil {
			s.confChange(d.Conf)
			continue
		}
		if err := s.recv.Receive(uint32(d.From), d.Payload, d.Swapped); err != nil {
			s.log.Debug("totempg frame dropped", "from", d.From, "error", err)
		}
	}
	if rd.Outs != nil {
		clear(rd.Outs)
		if s.spare == nil {
			s.spare = rd.Outs[:0]
		}
	}
}

// Passes bounds the Ready/Advance rounds a driver makes after one input:
// more mean a loop the stack's design rules out.
const Passes = 16
