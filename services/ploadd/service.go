package main

import (
	"errors"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/ploadd/internal/pload"
)

// sendAhead is how many MCASTs the service keeps queued in the host: enough
// to keep totemd's queue full, few enough that a finished run leaves only a
// short tail of messages nobody counts.
const sendAhead = 256

// Result keys written after a run (runtime.pload.*). RunKey is written last,
// so a reader that sees it changed sees the others of the same run.
const (
	keyWrites  = "runtime.pload.writes"
	keySize    = "runtime.pload.size"
	keyElapsed = "runtime.pload.elapsed_ns"
	keyTPS     = "runtime.pload.tps"
	keyMBps    = "runtime.pload.mbps"
	keyLine    = "runtime.pload.result"
	RunKey     = "runtime.pload.run"
	keyStart   = "pload.start"
)

// service adapts the pure pload core to the service host.
type service struct {
	core  *pload.Core
	host  svchost.Host
	log   hclog.Logger
	start time.Time // monotonic origin of the core's clock
	runs  uint32
}

func newService(cfg svchost.Config) (svchost.Service, error) {
	s := &service{core: pload.New(), host: cfg.Host, log: cfg.Host.Logger("PLOAD"), start: time.Now()}
	cfg.Host.Cmap().Watch("pload.", func([]string) { s.configured() })
	return s, nil
}

func (s *service) settings() pload.Settings {
	st := pload.Settings{Count: pload.DefaultCount, Size: pload.DefaultSize}
	m := s.host.Cmap()
	if v, ok := m.Get("pload.count"); ok {
		if n, ok := v.AsUint(); ok {
			st.Count = uint32(n)
		}
	}
	if v, ok := m.Get("pload.size"); ok {
		if n, ok := v.AsUint(); ok {
			st.Size = uint32(n)
		}
	}
	if v, ok := m.Get(keyStart); ok {
		st.Start, _ = v.AsString()
	}
	return st
}

// configured runs after a change below pload.: the core decides whether it
// starts a run; once the START is on the ring pload.start is consumed.
func (s *service) configured() {
	out := s.core.Configured(s.settings())
	s.logAll(out.Logs)
	if out.Start == nil {
		return
	}
	s.host.Mcast(out.Start, func(e cs.Error) {
		if e != cs.OK {
			s.log.Warn("pload START not sent", "error", e)
			return
		}
		s.host.Cmap().Delete(keyStart, nil)
	})
}

func (s *service) logAll(logs []pload.Log) {
	for _, l := range logs {
		switch l.Level {
		case pload.Notice:
			s.log.Info(l.Text)
		case pload.Warning:
			s.log.Warn(l.Text)
		default:
			s.log.Debug(l.Text)
		}
	}
}

// fill keeps sendAhead MCASTs queued while this node's run owes messages;
// every accepted one tops the queue up again.
func (s *service) fill() {
	for s.host.Backlog() < sendAhead {
		m, ok := s.core.NextSend()
		if !ok {
			return
		}
		s.host.Mcast(m, s.sent)
	}
}

func (s *service) sent(e cs.Error) {
	if e != cs.OK {
		// The bus went away: the run cannot finish its sends from here.
		s.log.Warn("pload message not sent", "error", e)
		return
	}
	s.fill()
}

func (s *service) Deliver(from uint32, payload []byte, swapped bool) {
	out, err := s.core.Deliver(from, payload, swapped, int64(time.Since(s.start)))
	if err != nil {
		s.log.Warn("pload message dropped", "error", err)
		return
	}
	s.logAll(out.Logs)
	if out.Result != nil {
		s.report(out.Result)
		return
	}
	s.fill()
}

// report writes the run's figures to runtime.pload.* (corosync would exit
// with status 99 here instead).
func (s *service) report(r *pload.Result) {
	s.runs++
	m := s.host.Cmap()
	set := func(k string, v value.Value) {
		m.Set(k, v, func(e cs.Error) {
			if e != cs.OK {
				s.log.Warn("result not stored", "key", k, "error", e)
			}
		})
	}
	set(keyWrites, value.U32(r.Writes))
	set(keySize, value.U32(r.Size))
	set(keyElapsed, value.U64(uint64(r.ElapsedNs)))
	set(keyTPS, value.F64(r.TPS))
	set(keyMBps, value.F64(r.MBps))
	set(keyLine, value.Str(r.Line))
	set(RunKey, value.U32(s.runs))
	s.log.Info("pload run finished; results in runtime.pload.* (needle keeps running where corosync would exit)")
}

func (s *service) Attached(h svchost.Host, a svchost.Attachment) {
	s.host = h
	s.fill()
}
func (s *service) Detached()             {}
func (s *service) ConfChg(ipcproto.Conf) {}

// pload has no sync state (corosync's pload has no sync callbacks).
func (s *service) SyncInit(svchost.SyncRound)            {}
func (s *service) SyncProcess(svchost.SyncRound) bool    { return true }
func (s *service) SyncActivate(svchost.SyncRound)        {}
func (s *service) SyncAbort()                            {}
func (s *service) Tick(time.Time)                        {}
func (s *service) Disconnect(*svchost.Client)            {}
func (s *service) Request(*svchost.Client, []byte) error { return errNoEndpoint }
func (s *service) Connect(*svchost.Client) error {
	// pload has no libqb endpoint (corosync removed libpload before 2.0).
	return syscall.ECONNREFUSED
}

var errNoEndpoint = errors.New("pload serves no libqb requests")
