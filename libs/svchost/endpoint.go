package svchost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/qbipc"
)

// Loop runs work on the goroutine that owns a service's state.
type Loop interface {
	// Post queues f to run there; it may wait for room. It returns false
	// when the owner has stopped (f will not run).
	Post(f func()) bool
}

// Handler is the service side of an Endpoint; every call is on the
// owner goroutine. Service satisfies it.
type Handler interface {
	Connect(c *Client) error
	Request(c *Client, msg []byte) error
	Disconnect(c *Client)
}

// EndpointConfig configures one libqb endpoint.
type EndpointConfig struct {
	// Service is the libqb name ("cmap", "cfg", "quorum", ...).
	Service   string
	Transport qbipc.Transport
	Loop      Loop
	Handler   Handler
	// Rules authorise clients, evaluated on the owner at each attempt.
	Rules UIDGID
	// Log gets the endpoint's decisions; nil discards them.
	Log hclog.Logger
	// EventQueueBytes bounds one client's queued events (qbipc's default
	// when 0); a client over it is dropped and the drop is logged.
	EventQueueBytes int
	// Inherited are the name's setup sockets kept from the daemon's
	// previous run (keeper.go); nil binds them afresh.
	Inherited []*os.File
	// Adopt are the connections the daemon's predecessor handed over
	// (handover.go): they become clients without Handler.Connect.
	Adopt []*qbipc.Parked
}

// Endpoint serves one libqb service name on an owner loop: each client's
// connect, requests and disconnect run there in order, authorised by the
// live uidgid rules. A request is answered by Client.Respond during
// Handler.Request (immediate) or later (deferred); the client's next
// request is read only after that, as libqb clients wait for each answer
// anyway, so responses can never be mixed up.
type Endpoint struct {
	cfg EndpointConfig
	srv *qbipc.Server
	// clients is owned by the loop.
	clients map[uint64]*Client
	// adopted are the clients taken over from Adopt, until the Service
	// resumed them.
	adopted []*Client
}

// Client is one libqb connection to one of the service's endpoints. Its
// methods run on the owner goroutine.
type Client struct {
	// Endpoint is the libqb service name the client connected to.
	Endpoint string
	// Conn is the underlying connection (credentials, stats, flow control).
	Conn *qbipc.Conn
	// Value is the service's per-client state.
	Value any

	pending  chan reply // the request awaiting its answer, if any
	gone     bool
	procname *string
}

type reply struct {
	msg []byte
	err error
}

// ErrNoRequest is returned by Client.Respond when no request awaits an
// answer.
var ErrNoRequest = errors.New("svchost: no request awaits a response")

// Respond answers the client's current request (now or later).
func (c *Client) Respond(msg []byte) error {
	if c.gone {
		return qbipc.ErrClosed
	}
	if c.pending == nil {
		return ErrNoRequest
	}
	c.pending <- reply{msg: msg}
	c.pending = nil
	return nil
}

// NoReply finishes the current request without a response (a request of
// a kind whose client does not wait for one).
func (c *Client) NoReply() {
	if c.pending != nil {
		c.pending <- reply{}
		c.pending = nil
	}
}

// Awaiting reports whether a request waits for its answer.
func (c *Client) Awaiting() bool { return c.pending != nil }

// SendEvent queues an event (dispatch message) for the client.
func (c *Client) SendEvent(msg []byte) error {
	if c.gone {
		return qbipc.ErrClosed
	}
	return c.Conn.SendEvent(msg)
}

// Stats are the connection's libqb counters (corosync's
// stats.ipcs.service<S>.<pid>.<conn>.* keys).
func (c *Client) Stats() qbipc.ConnStats { return c.Conn.Stats() }

// ProcName is the client's /proc/<pid>/comm, as libqb records it (read
// once, at the first call).
func (c *Client) ProcName() string {
	if c.procname == nil {
		name := qbipc.ProcComm(c.Conn.Creds().PID)
		if name == "?" {
			name = ""
		}
		c.procname = &name
	}
	return *c.procname
}

// ListenEndpoint binds the endpoint's libqb name; Serve runs it.
func ListenEndpoint(cfg EndpointConfig) (*Endpoint, error) {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	e := &Endpoint{cfg: cfg, clients: map[uint64]*Client{}}
	srv, err := qbipc.Listen(qbipc.Config{
		Service:         cfg.Service,
		Transport:       cfg.Transport,
		EventQueueBytes: cfg.EventQueueBytes,
		Logger:          slog.New(hclogHandler{cfg.Log}),
		Inherited:       cfg.Inherited,
		Adopt:           cfg.Adopt,
	}, (*endpointHandler)(e))
	if err != nil {
		return nil, fmt.Errorf("listen on libqb service %s: %w", cfg.Service, err)
	}
	e.srv = srv
	for _, qc := range srv.Adopted() {
		c := &Client{Endpoint: cfg.Service, Conn: qc}
		e.clients[qc.ID()] = c
		e.adopted = append(e.adopted, c)
	}
	return e, nil
}

// Serve accepts clients until ctx ends, then closes every connection
// (their Disconnect runs on the loop, which must keep running until Serve
// returns).
func (e *Endpoint) Serve(ctx context.Context) error {
	err := e.srv.Serve(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close stops accepting and drops every client (Serve returns).
func (e *Endpoint) Close() error { return e.srv.Close() }

// Clients lists the connected clients; owner goroutine only.
func (e *Endpoint) Clients() []*Client {
	out := make([]*Client, 0, len(e.clients))
	for _, c := range e.clients {
		out = append(out, c)
	}
	return out
}

// endpointHandler is the qbipc side: per-connection goroutines that hand
// every step to the loop and wait for it.
type endpointHandler Endpoint

var errStopping = errors.New("service is shutting down")

// run posts f and waits for it, or for ctx.
func (h *endpointHandler) run(ctx context.Context, f func()) bool {
	done := make(chan struct{})
	if !h.cfg.Loop.Post(func() { f(); close(done) }) {
		return false
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

func (h *endpointHandler) Connect(qc *qbipc.Conn) error {
	err := errStopping
	h.run(qc.Context(), func() {
		if err = h.cfg.Rules.Authorize(qc.Creds()); err != nil {
			return
		}
		c := &Client{Endpoint: h.cfg.Service, Conn: qc}
		if err = h.cfg.Handler.Connect(c); err == nil {
			h.clients[qc.ID()] = c
		}
	})
	return err
}

func (h *endpointHandler) Request(qc *qbipc.Conn, msg []byte) ([]byte, error) {
	ch := make(chan reply, 1)
	if !h.run(qc.Context(), func() {
		c, ok := h.clients[qc.ID()]
		if !ok {
			ch <- reply{err: errStopping}
			return
		}
		c.pending = ch
		if err := h.cfg.Handler.Request(c, msg); err != nil {
			c.pending = nil
			ch <- reply{err: err}
		}
	}) {
		return nil, errStopping
	}
	select {
	case r := <-ch:
		return r.msg, r.err
	case <-qc.Context().Done():
		return nil, errStopping
	}
}

func (h *endpointHandler) Disconnect(qc *qbipc.Conn) {
	// The connection's context is over; wait for the loop alone.
	h.run(context.Background(), func() {
		c, ok := h.clients[qc.ID()]
		if !ok {
			return
		}
		delete(h.clients, qc.ID())
		c.gone, c.pending = true, nil
		h.cfg.Handler.Disconnect(c)
	})
}
