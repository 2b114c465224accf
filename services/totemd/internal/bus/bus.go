// Package bus is totemd's side of the local service bus (libs/ipcproto):
// it accepts service daemons on a unix socket, enforces one attached daemon
// per Corosync service id, and turns their frames into events for the node
// loop. Sending to a service goes through a bounded per-service queue
// drained by its own writer, so a slow service never stalls the ring; a
// service whose queue overflows is disconnected with an error (it reattaches
// and resyncs) rather than silently losing a delivery.
//
// A Service is the session the node loop knows, not a connection: a daemon
// restarting on purpose hands its session over to its successor
// (ipcproto's doc, "Handing a daemon over to its successor"; handover.go).
// On KindPark the writer writes KindParked last and holds the frames queued
// after it; the daemon then unparks, or sends its state and its clients'
// descriptors and closes. totemd keeps the session attached, its frames
// queued, for KeepGrace; a successor that sends KindResume gets the same
// state and descriptors, then the held frames, and its connection carries
// the same *Service on. The node loop sees neither the park nor the change
// of connection. A session nobody takes over in time, or whose held frames
// overflow the queue, is detached as if its daemon had closed its
// connection. Service daemons' libqb listening sockets are held the same
// way across a restart (keep.go).
package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/ipcproto"
)

// QueueLen bounds the frames waiting for one service.
const QueueLen = 65536

// Event is something a service did: a message it sent, or (Msg == nil) its
// disconnection.
type Event struct {
	Svc *Service
	Msg *ipcproto.Msg
	Err error // why the service went away, with Msg == nil
}

// Service is one attached daemon's session. The node loop holds it from
// the attach Event to the detach Event; a handover changes the connection
// underneath (handover.go) but never the *Service, its queue or its
// events.
type Service struct {
	ID   uint16
	Name string
	srv  *Server
	out  chan *ipcproto.Msg
	done chan struct{} // closed when the session ends
	wake chan struct{} // (capacity 1) the writer must look at the state again

	mu sync.Mutex
	// conn is the daemon's connection; exactly one reader goroutine reads
	// it and reports the session's end. It is nil while the session is
	// handed over: then whoever ends the session reports it.
	conn    *ipcproto.Conn
	parkReq bool        // the daemon sent KindPark: the writer owes it KindParked
	parked  bool        // the writer holds the frames (it wrote, or is writing, KindParked)
	held    *handover   // what the daemon handed over, waiting for a successor
	expire  *time.Timer // ends a held session without a successor
	ended   bool
	err     error // why the session ended (nil: the daemon detached)
}

func (s *Server) newService(id uint16, name string, conn *ipcproto.Conn) *Service {
	return &Service{ID: id, Name: name, srv: s, conn: conn, out: make(chan *ipcproto.Msg, QueueLen),
		done: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// Send queues a message for the service; it fails if the service is gone
// or its queue is full (then the service is disconnected). While the
// daemon is parked or handed over the message waits in the queue.
func (s *Service) Send(m *ipcproto.Msg) error {
	select {
	case <-s.done:
		return fmt.Errorf("bus: service %s (%d) is gone", s.Name, s.ID)
	default:
	}
	select {
	case s.out <- m:
		return nil
	default:
		err := fmt.Errorf("bus: service %s (%d) fell %d messages behind", s.Name, s.ID, QueueLen)
		s.fail(err)
		return err
	}
}

// end ends the session, err its reason unless it had ended already: the
// connection closes, the writer stops, and what was handed over is
// closed. It reports whether the caller must report the detach (report):
// when the session was handed over, no reader is left to do it.
func (s *Service) end(err error) (report bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endLocked(err)
}

func (s *Service) endLocked(err error) (report bool) {
	if s.ended {
		return false
	}
	s.ended, s.err = true, err
	close(s.done)
	if s.conn != nil {
		_ = s.conn.Close() // its reader reports the detach
		return false
	}
	if s.expire != nil {
		s.expire.Stop()
		s.expire = nil
	}
	s.held.close()
	s.held = nil
	return true
}

// fail ends the session with err, and reports the detach if no reader
// will (the session was handed over).
func (s *Service) fail(err error) {
	if s.end(err) {
		s.srv.lost(s)
	}
}

// failConn ends the session with err if conn is still its connection: a
// write error on a connection the session has left is no concern of it.
func (s *Service) failConn(conn *ipcproto.Conn, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == conn {
		s.endLocked(err) // conn != nil: its reader reports
	}
}

// reason is why the session ended.
func (s *Service) reason() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// poke tells the writer that the state changed.
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// writer sends the queued frames. It takes everything queued at once,
// merges consecutive deliveries into KindDeliverBatch frames and writes
// the lot with one system call (ipcproto.Conn.SendBatch): under load the
// bus costs a write per batch of frames, not per message. When the daemon
// parks, it finishes the write in progress, writes KindParked, and then
// leaves the frames queued until the daemon unparks or a successor takes
// the session over; it lives as long as the session, across connections.
func (s *Service) writer(log hclog.Logger) {
	var out []*ipcproto.Msg
	for {
		select {
		case <-s.done:
			return
		default:
		}
		s.mu.Lock()
		conn, park := s.conn, s.parkReq && !s.parked
		if park {
			// Before the write: a daemon that read KindParked finds the
			// writer parked (handover.go relies on it).
			s.parked = true
		}
		hold := s.parked || conn == nil
		s.mu.Unlock()
		switch {
		case park:
			if err := conn.Send(&ipcproto.Msg{Kind: ipcproto.KindParked}); err != nil {
				log.Warn("send to service failed", "service", s.Name, "error", err)
				s.failConn(conn, err)
			}
			continue
		case hold:
			select {
			case <-s.wake:
				continue
			case <-s.done:
				return
			}
		}
		select {
		case m := <-s.out:
			out = s.collect(out[:0], m)
			if err := conn.SendBatch(out); err != nil {
				log.Warn("send to service failed", "service", s.Name, "error", err)
				s.failConn(conn, err)
			}
			clear(out)
		case <-s.wake:
		case <-s.done:
			return
		}
	}
}

// MaxBatchBytes bounds the payload bytes of one KindDeliverBatch (and
// ipcproto.MaxBatch its deliveries): a batch frame stays well under
// ipcproto.MaxFrame even with msgpack's per-delivery overhead.
const MaxBatchBytes = 1 << 20

// maxWriteBytes bounds the payload bytes the writer takes for one write.
const maxWriteBytes = 4 << 20

// collect appends first and the frames queued behind it to out, in order,
// consecutive deliveries merged into KindDeliverBatch frames (the ipcproto
// contract allows either form). Only the writer reads s.out, so its length
// is what is waiting.
func (s *Service) collect(out []*ipcproto.Msg, first *ipcproto.Msg) []*ipcproto.Msg {
	size := 0
	var batch []ipcproto.Delivery // the deliveries since the last other frame
	batchBytes := 0
	endBatch := func() {
		switch len(batch) {
		case 0:
		case 1:
			d := batch[0]
			out = append(out, &ipcproto.Msg{Kind: ipcproto.KindDeliver, From: d.From, Payload: d.Payload, Swapped: d.Swapped})
		default:
			out = append(out, &ipcproto.Msg{Kind: ipcproto.KindDeliverBatch, Batch: batch})
		}
		batch, batchBytes = nil, 0
	}
	m := first
	for {
		size += len(m.Payload)
		if m.Kind == ipcproto.KindDeliver {
			if len(batch) == ipcproto.MaxBatch || batchBytes+len(m.Payload) > MaxBatchBytes {
				endBatch()
			}
			batch = append(batch, ipcproto.Delivery{From: m.From, Payload: m.Payload, Swapped: m.Swapped})
			batchBytes += len(m.Payload)
		} else {
			endBatch()
			out = append(out, m)
		}
		if len(s.out) == 0 || size >= maxWriteBytes {
			break
		}
		m = <-s.out
	}
	endBatch()
	return out
}

// Server accepts service daemons.
type Server struct {
	ln     net.Listener
	log    hclog.Logger
	events chan Event

	mu       sync.Mutex
	attached map[uint16]*Service
	// kept holds service daemons' libqb listening sockets by name
	// (keep.go); closed is set once the server shuts down.
	kept      map[string]*kept
	closed    bool
	keepGrace time.Duration // KeepGrace, also a handed-over session's (handover.go); shorter in tests
	// hosted are the services totemd serves itself (never written after
	// Listen): a daemon attaching as one is refused.
	hosted []uint16
}

// Listen creates the bus socket at path (mode 0600, never reachable by
// anyone but root: listen.go) and starts accepting; it stops when ctx ends.
// hosted are service ids totemd serves itself: a daemon that attaches as
// one gets a KindError naming it, and its connection is closed.
func Listen(ctx context.Context, path string, log hclog.Logger, hosted ...uint16) (*Server, error) {
	ln, err := listenPrivate(path)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &Server{ln: ln, log: log, events: make(chan Event, 1024), attached: map[uint16]*Service{},
		kept: map[string]*kept{}, keepGrace: KeepGrace, hosted: slices.Clone(hosted)}
	go func() { <-ctx.Done(); ln.Close(); s.closeKept() }()
	go s.accept()
	return s, nil
}

// Events is the stream of service actions for the node loop.
func (s *Server) Events() <-chan Event { return s.events }

// Attached returns the daemon attached for a service id, if any.
func (s *Server) Attached(id uint16) *Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attached[id]
}

func (s *Server) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			if pid, ok := admit(c, s.log); ok { // root only (listen.go)
				s.serve(ipcproto.NewConn(c), pid)
			}
		}()
	}
}

// serve handles one connection: the first frame must be an attach, a
// resume (handover.go) or a keep (keep.go).
func (s *Server) serve(conn *ipcproto.Conn, pid int32) {
	m, err := conn.Recv()
	if err != nil {
		s.log.Warn("bus connection dropped before attach", "error", err)
		conn.Close()
		return
	}
	if (m.Kind == ipcproto.KindAttach || m.Kind == ipcproto.KindResume) && slices.Contains(s.hosted, m.Service) {
		s.log.Warn("a daemon attached as a service totemd serves itself; refused", "service", m.Name, "id", m.Service, "pid", pid)
		_ = conn.Send(&ipcproto.Msg{Kind: ipcproto.KindError,
			Text: fmt.Sprintf("service %d (%s) is served by totemd itself: no daemon may attach as it", m.Service, m.Name)})
		conn.Close()
		return
	}
	switch m.Kind {
	case ipcproto.KindKeep:
		s.keep(conn, pid, m)
	case ipcproto.KindAttach:
		s.attach(conn, pid, m, true)
	case ipcproto.KindResume:
		s.resume(conn, pid, m)
	default:
		_ = conn.Send(&ipcproto.Msg{Kind: ipcproto.KindError, Text: fmt.Sprintf("first message must be attach, resume or keep, got %s", m.Kind)})
		conn.Close()
	}
}

// attach starts a session for conn, whose first frame m is a KindAttach
// (or a KindResume with nothing to take over, rewritten as one), and
// reads it. With supersede (a real KindAttach), a session handed over and
// waiting for a successor gives way: a daemon that attaches instead of
// resuming (one that cannot take over, such as an older version) does not
// want it.
func (s *Server) attach(conn *ipcproto.Conn, pid int32, m *ipcproto.Msg, supersede bool) {
	svc := s.newService(m.Service, m.Name, conn)
	s.mu.Lock()
	var gone *Service
	if old, ok := s.attached[svc.ID]; ok {
		if !supersede || !old.endHeld(nil, fmt.Errorf("bus: service %s (%d) handed over, but pid %d attached instead of resuming", old.Name, old.ID, pid)) {
			s.mu.Unlock()
			_ = conn.Send(&ipcproto.Msg{Kind: ipcproto.KindError, Text: fmt.Sprintf("service %d is already attached as %q", svc.ID, old.Name)})
			conn.Close()
			return
		}
		gone = old
	}
	s.attached[svc.ID] = svc
	s.mu.Unlock()
	if gone != nil {
		// Reported here, before the attach, so that the node loop sees
		// the old session leave before the new one comes.
		s.log.Warn("a service daemon attached instead of resuming the session handed over; its clients are disconnected",
			"service", gone.Name, "id", gone.ID, "pid", pid)
		s.events <- Event{Svc: gone, Err: gone.reason()}
	}
	go svc.writer(s.log)
	s.events <- Event{Svc: svc, Msg: m}
	s.read(svc, conn, pid)
}

// read turns the frames of conn, svc's connection, into events until the
// connection ends, then detaches svc, or keeps it for a successor after a
// handover (handover.go).
func (s *Server) read(svc *Service, conn *ipcproto.Conn, pid int32) {
	for {
		m, err := conn.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			s.detach(svc, err)
			return
		}
		switch m.Kind {
		case ipcproto.KindDetach:
			s.detach(svc, nil)
			return
		case ipcproto.KindPark:
			if !s.park(svc, conn, pid) {
				return
			}
		case ipcproto.KindUnpark, ipcproto.KindHandover, ipcproto.KindHandoverEnd:
			err := fmt.Errorf("bus: service %s (%d) sent %s without %s", svc.Name, svc.ID, m.Kind, ipcproto.KindPark)
			s.log.Warn("service daemon broke the handover protocol", "service", svc.Name, "pid", pid, "error", err)
			s.detach(svc, err)
			return
		default:
			s.events <- Event{Svc: svc, Msg: m}
		}
	}
}

// detach ends svc, whose reader calls it, and reports it to the node loop.
func (s *Server) detach(svc *Service, err error) {
	svc.end(err)
	s.report(svc)
}

// lost reports the end of a session that no reader reads (handed over):
// from whatever goroutine ended it, possibly the node loop's own (Send),
// so the event is queued by another.
func (s *Server) lost(svc *Service) {
	go s.report(svc)
}

// report removes an ended session and gives the node loop its detach
// Event; it runs once per session, by whoever ended it (Service.end).
func (s *Server) report(svc *Service) {
	s.mu.Lock()
	if s.attached[svc.ID] == svc {
		delete(s.attached, svc.ID)
	}
	s.mu.Unlock()
	s.events <- Event{Svc: svc, Err: svc.reason()}
}

// Close stops accepting and disconnects every service; a session handed
// over is detached, its descriptors closed.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.closeKept()
	s.mu.Lock()
	svcs := make([]*Service, 0, len(s.attached))
	for _, svc := range s.attached {
		svcs = append(svcs, svc)
	}
	s.mu.Unlock()
	for _, svc := range svcs {
		svc.fail(errors.New("bus: totemd shutting down"))
	}
	return err
}

// Queued is how many messages wait to be written to the service.
func (s *Service) Queued() int { return len(s.out) }
