// Package cfgipc puts the cfg core on the libqb "cfg" endpoint: it is the
// qbipc.Handler for that service and turns the core's Respond/SendEvent
// actions into writes on the right connection. Every touch of the core
// happens inside Loop.Submit, on the goroutine that owns it (totemd's
// node loop), so the core stays single-threaded; all other actions are
// handed to the driver.
package cfgipc

import (
	"fmt"
	"log/slog"

	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
)

// Loop runs functions on the goroutine that owns the cfg core.
type Loop interface {
	// Submit runs f there and returns once f has run.
	Submit(f func())
}

// Config wires an Endpoint to its driver.
type Config struct {
	// Service is the core; only touched inside Loop.Submit.
	Service *cfg.Service
	Loop    Loop
	// Authorize accepts or refuses a client before it is connected
	// (spec/client-api.md §4.1); nil accepts everyone.
	Authorize func(qbipc.Creds) error
	// Other carries out every action that is not a response or event
	// (Multicast, timers, Reload, ReopenLogs, CryptoPhase, Log, Exit,
	// Shutdown). It runs on the loop goroutine and must not block on it.
	Other  func(cfg.Action)
	Logger *slog.Logger
}

// Endpoint is the qbipc.Handler of the "cfg" service.
type Endpoint struct {
	cfg   Config
	conns map[cfg.ConnID]*qbipc.Conn // loop goroutine only
}

// New returns the handler; pass it to qbipc.Listen with Service "cfg".
func New(c Config) *Endpoint {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Endpoint{cfg: c, conns: map[cfg.ConnID]*qbipc.Conn{}}
}

// Connect implements qbipc.Handler.
func (e *Endpoint) Connect(c *qbipc.Conn) error {
	if e.cfg.Authorize != nil {
		if err := e.cfg.Authorize(c.Creds()); err != nil {
			return err
		}
	}
	var err error
	e.cfg.Loop.Submit(func() {
		id := cfg.ConnID(c.ID())
		if err = e.cfg.Service.Connect(id); err == nil {
			e.conns[id] = c
		}
	})
	return err
}

// Request implements qbipc.Handler: every answer goes out through Carry.
func (e *Endpoint) Request(c *qbipc.Conn, msg []byte) ([]byte, error) {
	e.cfg.Loop.Submit(func() {
		acts, err := e.cfg.Service.Request(cfg.ConnID(c.ID()), msg)
		if err != nil {
			e.cfg.Logger.Debug("cfg request refused", "conn", c.ID(), "err", err)
		}
		e.Carry(acts)
	})
	return nil, nil
}

// Disconnect implements qbipc.Handler.
func (e *Endpoint) Disconnect(c *qbipc.Conn) {
	e.cfg.Loop.Submit(func() {
		id := cfg.ConnID(c.ID())
		delete(e.conns, id)
		e.Carry(e.cfg.Service.Disconnect(id))
	})
}

// Carry performs actions of the core: responses and events are written
// to their connections (a vanished connection is skipped), the rest goes
// to Config.Other. Call it on the loop goroutine with the actions of any
// core event (Deliver, TimerExpired, ReloadDone, ReopenLogsDone).
func (e *Endpoint) Carry(acts []cfg.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case cfg.Respond:
			e.write(a.Conn, "response", a.Msg, (*qbipc.Conn).Respond)
		case cfg.SendEvent:
			e.write(a.Conn, "event", a.Msg, (*qbipc.Conn).SendEvent)
		default:
			if e.cfg.Other != nil {
				e.cfg.Other(a)
			}
		}
	}
}

func (e *Endpoint) write(id cfg.ConnID, what string, msg []byte, send func(*qbipc.Conn, []byte) error) {
	c, ok := e.conns[id]
	if !ok {
		return
	}
	if err := send(c, msg); err != nil {
		e.cfg.Logger.Debug(fmt.Sprintf("cfg %s not delivered", what), "conn", id, "err", err)
	}
}
