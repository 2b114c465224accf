package bus

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/needle-cluster/needle/libs/ipcproto"
)

// KeepGrace is how long totemd goes on holding a service daemon's libqb
// listening sockets after the daemon's keeper connection closed
// (ipcproto's doc, "Keeping the libqb listeners"). Clients that connect
// meanwhile wait in the socket's backlog for the restarted daemon; a
// daemon that stays away longer is taken as stopped on purpose, and the
// clients waiting then fail as they would have at once (so a client of a
// daemon stopped for good waits this long for its error). A restart by
// systemd (RestartSec, start-up: well under a second) fits in it with
// room to spare.
const KeepGrace = 10 * time.Second

// kept is one libqb name's listening sockets held by totemd.
type kept struct {
	files []*os.File
	// owner is the keeper connection of the daemon serving the name, nil
	// while no daemon does (then expire closes the sockets).
	owner  *ipcproto.Conn
	expire *time.Timer
}

func (k *kept) close() {
	for _, f := range k.files {
		f.Close()
	}
	k.files = nil
}

// keep serves a keeper connection (its first frame, first, was KindKeep):
// it hands over what is held for the names, takes the sockets the daemon
// bound itself, and holds all of them for the daemon until the connection
// closes; then the grace period starts.
func (s *Server) keep(conn *ipcproto.Conn, pid int32, first *ipcproto.Msg) {
	defer conn.Close()
	refuse := func(why string) {
		s.log.Warn("keeper connection refused", "pid", pid, "names", first.Names, "reason", why)
		_ = conn.Send(&ipcproto.Msg{Kind: ipcproto.KindError, Text: why})
	}
	var names []string
	var files []*os.File
	s.mu.Lock()
	for _, n := range first.Names {
		if k := s.kept[n]; k != nil && k.owner != nil && k.owner != conn {
			s.mu.Unlock()
			refuse(fmt.Sprintf("libqb service %q is served by a running daemon", n))
			s.release(conn)
			return
		}
		if k := s.kept[n]; k != nil {
			if k.expire != nil {
				k.expire.Stop()
				k.expire = nil
			}
			k.owner = conn
			for _, f := range k.files {
				names, files = append(names, n), append(files, f)
			}
		}
	}
	s.mu.Unlock()
	defer s.release(conn)
	if err := conn.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindKept, Names: names}, files); err != nil {
		s.log.Warn("keeper connection lost", "pid", pid, "error", err)
		return
	}
	if len(names) > 0 {
		s.log.Info("handed kept libqb listening sockets to a restarted service daemon", "pid", pid, "names", slices.Compact(names))
	}
	m, got, err := conn.RecvFiles()
	if err != nil {
		s.log.Warn("keeper connection lost", "pid", pid, "error", err)
		return
	}
	hold := func() error {
		if m.Kind != ipcproto.KindKeep || len(m.Names) != len(got) {
			return fmt.Errorf("want %s with one socket per name, got %s with %d names and %d sockets", ipcproto.KindKeep, m.Kind, len(m.Names), len(got))
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, n := range m.Names {
			if !slices.Contains(first.Names, n) {
				return fmt.Errorf("socket for libqb service %q, not one of %v", n, first.Names)
			}
			if k := s.kept[n]; k != nil && k.owner != conn {
				return fmt.Errorf("libqb service %q is served by another daemon", n)
			}
		}
		for i, n := range m.Names {
			k := s.kept[n]
			if k == nil {
				k = &kept{owner: conn}
				s.kept[n] = k
			}
			k.files = append(k.files, got[i])
		}
		return nil
	}
	if err := hold(); err != nil {
		for _, f := range got {
			f.Close()
		}
		refuse(err.Error())
		return
	}
	if len(m.Names) > 0 {
		s.log.Debug("holding a service daemon's libqb listening sockets", "pid", pid, "names", slices.Compact(slices.Clone(m.Names)))
	}
	// Nothing more is sent on a keeper connection: wait for its end.
	if m, err := conn.Recv(); err == nil {
		s.log.Warn("keeper connection closed: unexpected frame", "pid", pid, "kind", m.Kind)
	}
}

// release starts the grace period of every name held for conn.
func (s *Server) release(conn *ipcproto.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, k := range s.kept {
		if k.owner != conn {
			continue
		}
		k.owner = nil
		if s.closed {
			continue
		}
		s.log.Info("service daemon gone: holding its libqb listening socket so that its clients wait for its restart",
			"name", n, "grace", s.keepGrace)
		k.expire = time.AfterFunc(s.keepGrace, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.kept[n] == k && k.owner == nil {
				k.close()
				delete(s.kept, n)
				s.log.Warn("no service daemon took back its libqb listening socket in time; closed it", "name", n, "grace", s.keepGrace)
			}
		})
	}
}

// closeKept closes every held socket (totemd stopping).
func (s *Server) closeKept() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for n, k := range s.kept {
		if k.expire != nil {
			k.expire.Stop()
		}
		k.close()
		delete(s.kept, n)
	}
}
