// Package cfgipc puts the cfg core on the libqb "cfg" endpoint: it is the
// svchost.Handler of that endpoint (svchost.Endpoint runs the libqb side
// and the live uidgid rules) and turns the core's Respond/SendEvent
// actions into writes on the right connection. svchost calls the handler
// on the loop goroutine that owns the core (totemd's node loop), so the
// core stays single-threaded; all other actions are handed to the driver.
package cfgipc

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
)

// Core is what the endpoint hands its clients' connections and requests
// to: a *cfg.Service, or a driver that steps them into the node stack
// (totemd's, which owns the core there) and returns no actions, carrying
// out the stack's answers through Carry later.
type Core interface {
	Connect(c cfg.ConnID) error
	Request(c cfg.ConnID, msg []byte) ([]cfg.Action, error)
	Disconnect(c cfg.ConnID) []cfg.Action
}

// Config wires an Endpoint to its driver.
type Config struct {
	// Service is the core; only touched on the loop goroutine.
	Service Core
	// Other carries out every action that is not a response or event
	// (Multicast, timers, Reload, ReopenLogs, CryptoPhase, Log, Exit,
	// Shutdown). It runs on the loop goroutine and must not block on it.
	Other  func(cfg.Action)
	Logger hclog.Logger
}

// Endpoint is the svchost.Handler of the "cfg" service. A request is
// answered when the core says so: at once, or later (a reload, a
// shutdown vote), which svchost.Client.Respond allows.
type Endpoint struct {
	cfg   Config
	conns map[cfg.ConnID]*svchost.Client // loop goroutine only
}

// New returns the handler; give it to svchost.ListenEndpoint with Service
// cfg.IPCName.
func New(c Config) *Endpoint {
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return &Endpoint{cfg: c, conns: map[cfg.ConnID]*svchost.Client{}}
}

// Connect implements svchost.Handler (the client passed the uidgid rules).
func (e *Endpoint) Connect(c *svchost.Client) error {
	id := cfg.ConnID(c.Conn.ID())
	if err := e.cfg.Service.Connect(id); err != nil {
		return err
	}
	e.conns[id] = c
	return nil
}

// Request implements svchost.Handler: every answer goes out through Carry.
func (e *Endpoint) Request(c *svchost.Client, msg []byte) error {
	acts, err := e.cfg.Service.Request(cfg.ConnID(c.Conn.ID()), msg)
	if err != nil {
		e.cfg.Logger.Debug("cfg request refused", "conn", c.Conn.ID(), "error", err)
	}
	e.Carry(acts)
	return nil
}

// Disconnect implements svchost.Handler.
func (e *Endpoint) Disconnect(c *svchost.Client) {
	id := cfg.ConnID(c.Conn.ID())
	delete(e.conns, id)
	e.Carry(e.cfg.Service.Disconnect(id))
}

// Carry performs actions of the core: responses and events are written
// to their connections (a vanished connection is skipped), the rest goes
// to Config.Other. Call it on the loop goroutine with the actions of any
// core event (Deliver, TimerExpired, ReloadDone, ReopenLogsDone).
func (e *Endpoint) Carry(acts []cfg.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case cfg.Respond:
			e.write(a.Conn, "response", a.Msg, (*svchost.Client).Respond)
		case cfg.SendEvent:
			e.write(a.Conn, "event", a.Msg, (*svchost.Client).SendEvent)
		default:
			if e.cfg.Other != nil {
				e.cfg.Other(a)
			}
		}
	}
}

func (e *Endpoint) write(id cfg.ConnID, what string, msg []byte, send func(*svchost.Client, []byte) error) {
	c, ok := e.conns[id]
	if !ok {
		return
	}
	if err := send(c, msg); err != nil {
		e.cfg.Logger.Debug(fmt.Sprintf("cfg %s not delivered", what), "conn", id, "error", err)
	}
}
