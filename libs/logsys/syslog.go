package logsys

import (
	"errors"
	"fmt"
	"log/syslog"
	"sync"
)

// Syslogger delivers one message to syslog. Logsys serialises calls.
type Syslogger interface {
	Syslog(f Facility, sev Priority, msg string) error
	Close() error
}

// SyslogConn is the default Syslogger: log/syslog, one connection per
// facility, dialled on first use. Zero Network and Addr mean the local
// syslog socket (/dev/log), as syslog(3).
type SyslogConn struct {
	Network, Addr, Tag string

	mu sync.Mutex
	w  map[Facility]*syslog.Writer
}

// Syslog sends msg with facility f and severity sev (trace goes out as
// debug: syslog has no trace severity).
func (s *SyslogConn) Syslog(f Facility, sev Priority, msg string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.w[f]
	if !ok {
		var err error
		w, err = syslog.Dial(s.Network, s.Addr, syslog.Priority(f)|syslog.LOG_INFO, s.Tag)
		if err != nil {
			return fmt.Errorf("connect to syslog: %w", err)
		}
		if s.w == nil {
			s.w = map[Facility]*syslog.Writer{}
		}
		s.w[f] = w
	}
	switch {
	case sev <= PriEmerg:
		return w.Emerg(msg)
	case sev == PriAlert:
		return w.Alert(msg)
	case sev == PriCrit:
		return w.Crit(msg)
	case sev == PriErr:
		return w.Err(msg)
	case sev == PriWarning:
		return w.Warning(msg)
	case sev == PriNotice:
		return w.Notice(msg)
	case sev == PriInfo:
		return w.Info(msg)
	}
	return w.Debug(msg)
}

// Close closes every connection.
func (s *SyslogConn) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for f, w := range s.w {
		errs = append(errs, w.Close())
		delete(s.w, f)
	}
	return errors.Join(errs...)
}
