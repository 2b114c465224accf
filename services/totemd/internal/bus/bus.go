// Package bus is totemd's side of the local service bus (libs/ipcproto):
// it accepts service daemons on a unix socket, enforces one attached daemon
// per Corosync service id, and turns their frames into events for the node
// loop. Sending to a service goes through a bounded per-service queue
// drained by its own writer, so a slow service never stalls the ring; a
// service whose queue overflows is disconnected with an error (it reattaches
// and resyncs) rather than silently losing a delivery.
package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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

// Service is one attached daemon.
type Service struct {
	ID   uint16
	Name string
	conn *ipcproto.Conn
	out  chan *ipcproto.Msg
	once sync.Once
	done chan struct{}
	err  error
}

// Send queues a message for the service; it fails if the service is gone
// or its queue is full (then the service is disconnected).
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
		s.close(err)
		return err
	}
}

func (s *Service) close(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
		_ = s.conn.Close()
	})
}

// writer sends the queued frames. It takes everything queued at once,
// merges consecutive deliveries into KindDeliverBatch frames and writes
// the lot with one system call (ipcproto.Conn.SendBatch): under load the
// bus costs a write per batch of frames, not per message.
func (s *Service) writer(log hclog.Logger) {
	var out []*ipcproto.Msg
	for {
		select {
		case m := <-s.out:
			out = s.collect(out[:0], m)
			if err := s.conn.SendBatch(out); err != nil {
				log.Warn("send to service failed", "service", s.Name, "error", err)
				s.close(err)
				return
			}
			clear(out)
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
	keepGrace time.Duration // KeepGrace; shorter in tests
}

// Listen creates the bus socket at path (mode 0600, never reachable by
// anyone but root: listen.go) and starts accepting; it stops when ctx ends.
func Listen(ctx context.Context, path string, log hclog.Logger) (*Server, error) {
	ln, err := listenPrivate(path)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &Server{ln: ln, log: log, events: make(chan Event, 1024), attached: map[uint16]*Service{},
		kept: map[string]*kept{}, keepGrace: KeepGrace}
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

// serve handles one connection: the first frame must be an attach, or a
// keep (keep.go).
func (s *Server) serve(conn *ipcproto.Conn, pid int32) {
	m, err := conn.Recv()
	if err != nil {
		s.log.Warn("bus connection dropped before attach", "error", err)
		conn.Close()
		return
	}
	if m.Kind == ipcproto.KindKeep {
		s.keep(conn, pid, m)
		return
	}
	if m.Kind != ipcproto.KindAttach {
		_ = conn.Send(&ipcproto.Msg{Kind: ipcproto.KindError, Text: fmt.Sprintf("first message must be attach or keep, got %s", m.Kind)})
		conn.Close()
		return
	}
	svc := &Service{ID: m.Service, Name: m.Name, conn: conn, out: make(chan *ipcproto.Msg, QueueLen), done: make(chan struct{})}
	s.mu.Lock()
	if old, ok := s.attached[svc.ID]; ok {
		s.mu.Unlock()
		_ = conn.Send(&ipcproto.Msg{Kind: ipcproto.KindError, Text: fmt.Sprintf("service %d is already attached as %q", svc.ID, old.Name)})
		conn.Close()
		return
	}
	s.attached[svc.ID] = svc
	s.mu.Unlock()
	go svc.writer(s.log)
	s.events <- Event{Svc: svc, Msg: m}
	for {
		m, err := conn.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			s.detach(svc, err)
			return
		}
		if m.Kind == ipcproto.KindDetach {
			s.detach(svc, nil)
			return
		}
		s.events <- Event{Svc: svc, Msg: m}
	}
}

func (s *Server) detach(svc *Service, err error) {
	svc.close(err)
	s.mu.Lock()
	if s.attached[svc.ID] == svc {
		delete(s.attached, svc.ID)
	}
	s.mu.Unlock()
	if err == nil {
		err = svc.err
	}
	s.events <- Event{Svc: svc, Err: err}
}

// Close stops accepting and disconnects every service.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.closeKept()
	s.mu.Lock()
	for _, svc := range s.attached {
		svc.close(errors.New("bus: totemd shutting down"))
	}
	s.mu.Unlock()
	return err
}

// Queued is how many messages wait to be written to the service.
func (s *Service) Queued() int { return len(s.out) }
