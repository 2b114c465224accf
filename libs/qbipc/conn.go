package qbipc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned for operations on a connection that has ended.
var ErrClosed = errors.New("qbipc: connection closed")

// errFull is a transport's "cannot take this event now, retry later".
var errFull = errors.New("event channel full")

// srvTransport is the server end of one connection's channels.
type srvTransport interface {
	// next blocks until the next request; any error ends the connection.
	next() ([]byte, error)
	// respond sends one response; an error ends the connection.
	respond(msg []byte) error
	// event tries to hand one event over without waiting long; errFull
	// means retry later, other errors end the connection.
	event(msg []byte) error
	// tryEvent is event without any waiting, for SendEvent's own
	// goroutine (now is monoNow); owed reports notifications left for
	// flush, which the event goroutine then does. errFull also when the
	// event goroutine is busy with the channel.
	tryEvent(msg []byte, now int64) (owed bool, err error)
	// flush pushes out owed notifications; it reports whether any remain.
	flush() (pending bool, err error)
	setFlowControl(level int32) error
	// close releases everything; graceful wakes a client idling in poll.
	close(graceful bool)
	// interrupt makes a next() blocked now, or called later, return an
	// error wrapping os.ErrDeadlineExceeded without taking a request
	// (Server.Pause).
	interrupt()
	// handover gives up the transport for a successor: it returns its
	// state and new descriptors of its files, and releases the rest
	// without the client noticing (handover.go). On error nothing is
	// released: the transport is still whole and closes as usual.
	handover() (parkedTransport, []*os.File, error)
}

// Conn is one connected client of a Server.
type Conn struct {
	srv       *Server
	setup     *net.UnixConn
	creds     Creds
	id        uint64
	maxMsg    int
	transport Transport
	log       *slog.Logger
	t         srvTransport

	ctx    context.Context
	cancel context.CancelFunc

	respMu sync.Mutex // responses leave in order, one at a time

	evMu    sync.Mutex
	evQueue [][]byte
	evBytes int64        // accounted bytes in evQueue (budget.go)
	evAcct  atomic.Int64 // evBytes, readable without evMu (for the budget's choice of whom to drop)
	evSince atomic.Int64 // unix ns since when the queue has waited for the client; 0 when empty
	evWake  chan struct{}
	// evDirect: the event loop runs, so SendEvent may write an event
	// itself while nothing is queued (sendEvent).
	evDirect  bool
	evWritten atomic.Int64 // monoNow of the last event SendEvent wrote itself

	fcMu   sync.Mutex
	fc     int32
	fcWake chan struct{}

	stats     connCounters
	value     atomic.Value
	closeOnce sync.Once
	graceful  atomic.Bool
	done      chan struct{} // closed when Disconnect has run

	// started: its loops run, or are about to (guarded by srv.mu).
	started bool
	loops   sync.WaitGroup // the request and event loops
	// Pause and Handover (pause.go, handover.go).
	pauseOnce  sync.Once
	pauseCh    chan struct{} // closed by pause: read no more requests
	parkedCh   chan struct{} // closed by the request loop once it stopped for the pause
	handedOver atomic.Bool   // the connection went to a successor: no Disconnect
}

func newConn(s *Server, uc *net.UnixConn, creds Creds, maxMsg int, id uint64, tr Transport) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		srv: s, setup: uc, creds: creds, id: id, maxMsg: maxMsg, transport: tr,
		log:      s.log.With("conn", id, "pid", creds.PID, "uid", creds.UID, "gid", creds.GID),
		ctx:      ctx,
		cancel:   cancel,
		evWake:   make(chan struct{}, 1),
		fcWake:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		pauseCh:  make(chan struct{}),
		parkedCh: make(chan struct{}),
	}
	s.cfg.EventBudget.join(c) // until shutdown
	return c
}

// Creds are the client's credentials as of its connection request.
func (c *Conn) Creds() Creds { return c.creds }

// ID is a server-unique number for this connection (also sent to the client).
func (c *Conn) ID() uint64 { return c.id }

// Service is the libqb service name the client connected to.
func (c *Conn) Service() string { return c.srv.cfg.Service }

// MaxMsgSize is the negotiated limit for every message in either direction.
func (c *Conn) MaxMsgSize() int { return c.maxMsg }

// Transport is the transport this connection uses (an adopted connection
// keeps its predecessor's, whatever this server offers).
func (c *Conn) Transport() Transport { return c.transport }

// Context ends when the connection closes.
func (c *Conn) Context() context.Context { return c.ctx }

// Done is closed once the connection is closed and Handler.Disconnect has returned.
func (c *Conn) Done() <-chan struct{} { return c.done }

// SetValue attaches the handler's per-connection state.
func (c *Conn) SetValue(v any) { c.value.Store(&v) }

// Value returns what SetValue stored, or nil.
func (c *Conn) Value() any {
	if p, ok := c.value.Load().(*any); ok {
		return *p
	}
	return nil
}

// start runs the connection: requests in one goroutine, events in another.
func (c *Conn) start() {
	c.srv.wg.Add(2)
	c.loops.Add(2)
	go func() {
		defer c.srv.wg.Done()
		defer c.loops.Done()
		c.eventLoop()
	}()
	go func() {
		defer c.srv.wg.Done()
		defer c.loops.Done()
		c.requestLoop()
	}()
}

func (c *Conn) requestLoop() {
	defer func() {
		if !c.handedOver.Load() { // else Handover takes it from here
			c.finish()
		}
	}()
	for {
		if !c.waitTurn() {
			return
		}
		msg, err := c.t.next()
		if err != nil {
			if c.pausing() && errors.Is(err, os.ErrDeadlineExceeded) {
				continue // interrupted by Pause: nothing taken, park
			}
			if c.ctx.Err() == nil {
				c.log.Debug("connection ends", "err", err)
			}
			return
		}
		if h, err := DecodeReqHeader(msg); err == nil && (h.ID == msgDisconnect || h.Size == 0) {
			return // libqb's explicit disconnect request
		}
		if _, err := validateRequest(msg, c.maxMsg); err != nil {
			c.log.Warn("dropping client: protocol violation", "err", err)
			return
		}
		c.stats.requests.Add(1)
		resp, err := c.srv.h.Request(c, msg)
		if err != nil {
			c.log.Warn("dropping client: request handler failed", "err", err)
			return
		}
		if resp != nil {
			if err := c.Respond(resp); err != nil {
				if !errors.Is(err, ErrClosed) {
					c.log.Warn("dropping client: response failed", "err", err)
				}
				return
			}
		}
	}
}

// finish ends a connection that was served: shutdown, Handler.Disconnect,
// and it leaves the server.
func (c *Conn) finish() {
	c.shutdown()
	c.srv.h.Disconnect(c)
	c.srv.unregister(c)
	close(c.done)
	c.log.Debug("client disconnected")
}

// Respond sends a response. Handlers normally return it from Request; use
// Respond only for a response produced later (never before Connect has
// returned). Exactly one response per request that expects one, in request
// order: the client does not match them up. The size field is set from
// len(msg).
func (c *Conn) Respond(msg []byte) error {
	if err := c.checkOutgoing(msg); err != nil {
		return err
	}
	c.respMu.Lock()
	if c.ctx.Err() != nil || c.t == nil {
		c.respMu.Unlock()
		return ErrClosed
	}
	c.stats.responses.Add(1) // before the client can see it: the counter never lags
	err := c.t.respond(msg)
	c.respMu.Unlock()
	if err != nil {
		c.Close()
		return fmt.Errorf("respond: %w", err)
	}
	return nil
}

func (c *Conn) checkOutgoing(msg []byte) error {
	if len(msg) < RespHeaderSize {
		return fmt.Errorf("outgoing message of %d bytes: %w", len(msg), ErrShortMessage)
	}
	if len(msg) > c.maxMsg {
		return fmt.Errorf("outgoing message of %d bytes exceeds the client's max_msg_size %d", len(msg), c.maxMsg)
	}
	le.PutUint32(msg[8:], uint32(len(msg)))
	return nil
}

// SetFlowControl sets libqb's per-connection flow-control flag (0 = open,
// 1 = QB_IPCS_RATE_OFF, 2 = QB_IPCS_RATE_OFF_2; spec/ipc-libqb.md §7): the
// client refuses to send while 0 < flag <= its limit, and this server does
// not read the client's requests until the flag is 0 again.
func (c *Conn) SetFlowControl(level int32) error {
	if level < 0 || level > 2 {
		return fmt.Errorf("flow control level %d: want 0, 1 or 2", level)
	}
	c.fcMu.Lock()
	if level != 0 && c.fc == 0 {
		c.stats.fcCount.Add(1)
	}
	c.fc = level
	t := c.t // nil while Connect runs; attach applies the level then
	var err error
	if t != nil {
		err = t.setFlowControl(level)
	}
	c.fcMu.Unlock()
	select {
	case c.fcWake <- struct{}{}:
	default:
	}
	if err != nil {
		c.Close()
		return fmt.Errorf("set flow control: %w", err)
	}
	return nil
}

// attach installs the transport once the handshake created it, carrying
// over a flow-control level set during Connect.
func (c *Conn) attach(t srvTransport) error {
	c.fcMu.Lock()
	defer c.fcMu.Unlock()
	c.t = t
	if c.fc != 0 {
		return t.setFlowControl(c.fc)
	}
	return nil
}

// waitTurn blocks while the flag is set, and for good once the server is
// paused; false once the connection ended (or was handed over).
func (c *Conn) waitTurn() bool {
	for {
		if c.pausing() {
			close(c.parkedCh)
			<-c.ctx.Done() // Close or Handover
			return false
		}
		c.fcMu.Lock()
		fc := c.fc
		c.fcMu.Unlock()
		if fc == 0 {
			return c.ctx.Err() == nil
		}
		select {
		case <-c.ctx.Done():
			return false
		case <-c.fcWake:
		case <-c.pauseCh:
		}
	}
}

// Close disconnects the client (server-initiated). The client sees the
// hang-up at once; Handler.Disconnect runs once the request in progress,
// if any, has returned.
func (c *Conn) Close() {
	c.graceful.Store(true)
	c.shutdown()
}

// shutdown ends the connection once; the request loop then runs Disconnect.
func (c *Conn) shutdown() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.release()
	})
}

// release frees what the connection holds: its queued events (returned to
// the budget), its transport (closed gracefully if c.graceful) and its
// setup socket.
func (c *Conn) release() {
	c.respMu.Lock() // no response half-written into a closing transport
	defer c.respMu.Unlock()
	c.evMu.Lock()
	freed := c.evBytes
	c.evQueue, c.evBytes = nil, 0
	c.evAcct.Store(0)
	c.evSince.Store(0)
	c.evMu.Unlock()
	c.srv.cfg.EventBudget.release(freed)
	c.srv.cfg.EventBudget.leave(c)
	if c.t != nil {
		c.t.close(c.graceful.Load())
	}
	c.setup.Close()
}
