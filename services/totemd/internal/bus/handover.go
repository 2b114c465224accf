package bus

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/needle-cluster/needle/libs/ipcproto"
)

// Handing a daemon over to its successor: ipcproto's doc says what the
// daemons do, this is totemd's part. The node loop never notices: the
// *Service it holds stays attached, its Send queues into the same queue,
// and the successor's frames become Events of the same *Service.
//
//   - KindPark (read): the writer finishes its write, writes KindParked
//     and holds the frames queued after it (Service.writer). From then on
//     the daemon sends only KindUnpark, or KindHandover frames and
//     KindHandoverEnd, with descriptors: they are read with
//     Conn.RecvFiles, which refuses to run if the daemon sent anything
//     behind KindPark before it read KindParked (a broken daemon:
//     detached).
//   - KindUnpark: the writer writes again, the held frames first.
//     (KindDetach, though the contract leaves it out after KindPark,
//     detaches as ever.)
//   - KindHandoverEnd, then the connection closing: the session stays
//     attached with its frames held and what was handed over (handover),
//     for the keeper's grace period (KeepGrace). Anything else, or the
//     connection closing before a whole handover, detaches it as ever.
//   - KindResume as the first frame of a connection: the successor gets
//     the same KindHandover frames with the same descriptors (totemd's
//     copies are closed once sent) and the KindHandoverEnd, then the held
//     frames; its connection carries the session on. With nothing handed
//     over for its service, KindResume is KindAttach.
//   - The grace ending first, the queue overflowing (Send) or totemd
//     stopping (Close): the descriptors are closed and the session is
//     detached as if its daemon had closed its connection.

// Bounds of what one daemon may hand over: totemd holds it in memory, and
// the descriptors count against its own limit until a successor takes
// them. A daemon's state is its service's (a few MiB at most) and its
// clients' (a few descriptors each); one that hands over more is
// detached, the bound it exceeded named.
const (
	MaxHandoverBytes  = ipcproto.MaxHandoverBytes // payload of all the chunks
	MaxHandoverFiles  = ipcproto.MaxHandoverFiles // descriptors of all the chunks
	MaxHandoverChunks = 4096                      // KindHandover frames
)

// handover is what a daemon handed over, as it came: one chunk per
// KindHandover frame, with that frame's descriptors.
type handover struct {
	chunks []chunk
	bytes  int
	files  int
}

type chunk struct {
	payload []byte
	files   []*os.File
}

// add keeps one KindHandover frame and its files; past a bound it refuses
// them (and the caller closes them).
func (h *handover) add(payload []byte, files []*os.File) error {
	switch {
	case len(h.chunks)+1 > MaxHandoverChunks:
		return fmt.Errorf("more than %d %s frames", MaxHandoverChunks, ipcproto.KindHandover)
	case h.bytes+len(payload) > MaxHandoverBytes:
		return fmt.Errorf("more than %d bytes of handover state", MaxHandoverBytes)
	case h.files+len(files) > MaxHandoverFiles:
		return fmt.Errorf("more than %d handed-over descriptors", MaxHandoverFiles)
	}
	h.chunks = append(h.chunks, chunk{payload: payload, files: files})
	h.bytes += len(payload)
	h.files += len(files)
	return nil
}

// close closes totemd's copies of the descriptors (nil: nothing).
func (h *handover) close() {
	if h == nil {
		return
	}
	for _, c := range h.chunks {
		closeFiles(c.files)
	}
	h.chunks = nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// park serves svc's daemon from its KindPark on conn (svc's connection,
// read by this goroutine) until it unparks (park returns true: reading
// goes on as before) or its connection ends, after a whole handover or
// not (false: the session is held for a successor, or detached).
func (s *Server) park(svc *Service, conn *ipcproto.Conn, pid int32) bool {
	svc.mu.Lock()
	svc.parkReq = true
	svc.mu.Unlock()
	svc.poke()
	s.log.Debug("service daemon parked", "service", svc.Name, "id", svc.ID, "pid", pid)
	ho := &handover{}
	fail := func(err error) bool {
		ho.close()
		err = fmt.Errorf("bus: service %s (%d) parked: %w", svc.Name, svc.ID, err)
		s.log.Warn("service daemon's handover failed; detaching it", "service", svc.Name, "id", svc.ID, "pid", pid, "error", err)
		s.detach(svc, err)
		return false
	}
	for {
		m, files, err := conn.RecvFiles()
		if err != nil {
			return fail(fmt.Errorf("connection ended after %d %s frames, without %s: %w",
				len(ho.chunks), ipcproto.KindHandover, ipcproto.KindHandoverEnd, err))
		}
		switch m.Kind {
		case ipcproto.KindHandover:
			if err := ho.add(m.Payload, files); err != nil {
				closeFiles(files)
				return fail(err)
			}
			continue
		case ipcproto.KindDetach:
			closeFiles(files)
			ho.close()
			s.detach(svc, nil)
			return false
		}
		if len(files) > 0 {
			closeFiles(files)
			return fail(fmt.Errorf("%d descriptors with %s", len(files), m.Kind))
		}
		switch m.Kind {
		case ipcproto.KindUnpark:
			if len(ho.chunks) > 0 {
				return fail(fmt.Errorf("%s after %d %s frames", m.Kind, len(ho.chunks), ipcproto.KindHandover))
			}
			svc.mu.Lock()
			early := !svc.parked
			svc.parked, svc.parkReq = false, false
			svc.mu.Unlock()
			if early {
				return fail(fmt.Errorf("%s before it read %s", m.Kind, ipcproto.KindParked))
			}
			svc.poke()
			s.log.Debug("service daemon unparked", "service", svc.Name, "id", svc.ID, "pid", pid)
			return true
		case ipcproto.KindHandoverEnd:
			if m.ID != uint64(len(ho.chunks)) {
				return fail(fmt.Errorf("%s counts %d %s frames, %d came", m.Kind, m.ID, ipcproto.KindHandover, len(ho.chunks)))
			}
			// The daemon closes its connection now; nothing may follow.
			if m, err := conn.Recv(); err == nil {
				return fail(fmt.Errorf("%s after %s", m.Kind, ipcproto.KindHandoverEnd))
			} else if !errors.Is(err, io.EOF) {
				return fail(fmt.Errorf("after %s: %w", ipcproto.KindHandoverEnd, err))
			}
			s.hold(svc, conn, pid, ho)
			return false
		default:
			return fail(fmt.Errorf("%s, where only %s, %s or %s may come", m.Kind,
				ipcproto.KindUnpark, ipcproto.KindHandover, ipcproto.KindHandoverEnd))
		}
	}
}

// hold keeps svc, whose daemon handed ho over and closed conn, for a
// successor: attached, frames held, for the grace period.
func (s *Server) hold(svc *Service, conn *ipcproto.Conn, pid int32, ho *handover) {
	s.mu.Lock()
	grace := s.keepGrace
	s.mu.Unlock()
	svc.mu.Lock()
	if svc.ended || !svc.parked {
		// Ended meanwhile (its queue overflowed, totemd stops), or a
		// daemon that closed before it read KindParked.
		var err error
		if !svc.ended {
			err = fmt.Errorf("bus: service %s (%d) handed over before it read %s", svc.Name, svc.ID, ipcproto.KindParked)
		}
		svc.mu.Unlock()
		ho.close()
		s.detach(svc, err)
		return
	}
	// ho is the session's from here: a successor or the end closes it.
	chunks, bytes, files := len(ho.chunks), ho.bytes, ho.files
	svc.conn, svc.held = nil, ho
	svc.expire = time.AfterFunc(grace, func() {
		err := fmt.Errorf("bus: service %s (%d) handed over, but no successor took over within %v", svc.Name, svc.ID, grace)
		if svc.endHeld(ho, err) {
			s.log.Warn("handover lapsed: no successor took over the service daemon's session; its clients are disconnected",
				"service", svc.Name, "id", svc.ID, "grace", grace, "held_frames", svc.Queued())
			s.report(svc)
		}
	})
	svc.mu.Unlock()
	conn.Close()
	s.log.Info("service daemon handed its session over; holding it for its successor", "service", svc.Name, "id", svc.ID,
		"pid", pid, "chunks", chunks, "bytes", bytes, "descriptors", files, "grace", grace)
}

// endHeld ends the session with err if it is handed over and waiting for
// a successor (with ho, unless ho is nil), and reports whether it did: the
// caller must then report the detach.
func (s *Service) endHeld(ho *handover, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.held == nil || (ho != nil && s.held != ho) {
		return false
	}
	return s.endLocked(err)
}

// claim gives the session handed over to conn, a successor's connection
// that resumes it as name: it returns what was handed over, or why not.
// The writer stays parked until the handover is sent.
func (s *Service) claim(conn *ipcproto.Conn, name string) (*handover, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.held == nil {
		return nil, fmt.Sprintf("service %d is already attached as %q", s.ID, s.Name)
	}
	if name != s.Name {
		return nil, fmt.Sprintf("service %d was handed over by %q, not %q", s.ID, s.Name, name)
	}
	ho := s.held
	s.held = nil
	s.expire.Stop()
	s.expire = nil
	s.conn = conn
	return ho, ""
}

// resume serves a connection whose first frame m is KindResume: it gives
// the session handed over for m.Service to it, or, with none, attaches.
func (s *Server) resume(conn *ipcproto.Conn, pid int32, m *ipcproto.Msg) {
	s.mu.Lock()
	svc := s.attached[m.Service]
	if svc == nil {
		s.mu.Unlock()
		m.Kind = ipcproto.KindAttach // the node loop answers KindAttached
		s.attach(conn, pid, m, false)
		return
	}
	ho, why := svc.claim(conn, m.Name)
	s.mu.Unlock()
	if ho == nil {
		s.log.Warn("service daemon's resume refused", "service", m.Name, "id", m.Service, "pid", pid, "reason", why)
		_ = conn.Send(&ipcproto.Msg{Kind: ipcproto.KindError, Text: why})
		conn.Close()
		return
	}
	// From here this goroutine is the session's reader: a session ended
	// meanwhile (Send's overflow, Close) has conn closed, and its detach
	// is reported below, by the send's error or by read's.
	err := func() error {
		for i, c := range ho.chunks {
			if err := conn.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindHandover, Payload: c.payload}, c.files); err != nil {
				return fmt.Errorf("%s frame %d of %d: %w", ipcproto.KindHandover, i, len(ho.chunks), err)
			}
		}
		return conn.Send(&ipcproto.Msg{Kind: ipcproto.KindHandoverEnd, ID: uint64(len(ho.chunks))})
	}()
	chunks, bytes, files := len(ho.chunks), ho.bytes, ho.files
	ho.close() // the successor has its own copies now
	if err != nil {
		err = fmt.Errorf("bus: service %s (%d): handing over to the successor (pid %d): %w", svc.Name, svc.ID, pid, err)
		s.log.Warn("service daemon's successor lost during its takeover; detaching the session", "service", svc.Name, "error", err)
		s.detach(svc, err)
		return
	}
	svc.mu.Lock()
	svc.parked, svc.parkReq = false, false
	svc.mu.Unlock()
	svc.poke()
	s.log.Info("service daemon's successor took its session over", "service", svc.Name, "id", svc.ID, "pid", pid,
		"chunks", chunks, "bytes", bytes, "descriptors", files, "held_frames", svc.Queued())
	s.read(svc, conn, pid)
}
