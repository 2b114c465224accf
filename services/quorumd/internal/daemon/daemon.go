// Package daemon is quorumd's adapter: the quorum service core
// (internal/qsvc) and the votequorum core (internal/vq) as one
// svchost.Service attached as service 5. It decodes libqb requests of
// both endpoints (services/quorumd/wire), feeds the cores the ring's
// deliveries, sync rounds, timers and cmap changes, and carries out what
// they ask: ring multicasts through Host.Mcast in order, responses and
// events to their clients, runtime.votequorum.* writes through the cmap
// mirror, and the expected_votes_tracking barrier to state_dir/ev_tracking
// (internal/evtrack).
//
// Without quorum.provider the node is QUORUM_FREE (always quorate) and,
// as in corosync where votequorum is then not loaded, the votequorum
// endpoint refuses connections.
package daemon

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/quorumd/internal/qsvc"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// exitServiceInit is corosync's COROSYNC_DONE_SERVICE_ENGINE_INIT: a
// quorum provider that cannot start ends the daemon with it.
const exitServiceInit = 20

// TickPeriod drives the votequorum core's timers (last_man_standing
// window, qdevice poll timeouts).
const TickPeriod = 100 * time.Millisecond

// Options are quorumd's svchost options.
func Options() svchost.Options {
	return svchost.Options{
		Program:      "quorumd",
		Usage:        "needle's quorum daemon (corosync's votequorum and quorum services)",
		Service:      wire.VotequorumService,
		Name:         "votequorum",
		Endpoints:    []string{wire.QuorumEndpoint, wire.VotequorumEndpoint},
		CmapPrefixes: []string{"quorum.", "nodelist.", "totem.", "config.", "system.", runtimePrefix},
		TickPeriod:   TickPeriod,
		New:          newService,
	}
}

// service is the quorum and votequorum services as a svchost.Service.
// Owner goroutine only.
type service struct {
	log  hclog.Logger
	qlog hclog.Logger
	host svchost.Host
	cfg  svchost.Config

	q        *qsvc.Service
	provider string // quorum.provider ("" = none)
	attached bool
	// qRing says the quorum service knows the ring (its V1 nodelist):
	// from the attach, a full round, or — when quorumd attached while the
	// ring's full round was running and only a round of its own follows —
	// the ring members of the last regular view (ringMembers).
	qRing       bool
	ringMembers []uint32
	nodeID      uint32
	vq          votequorum // nil without votequorum
	// served says a sync round was activated since the last attach: only
	// then are new clients accepted. Before it the daemon knows nothing
	// of the ring's votes (a quorumd restarted under a running ring would
	// answer "not quorate, no nodes"); corosync likewise refuses every
	// connection with EAGAIN until its first sync completed.
	served bool
}

// votequorum is the adapter half that drives the votequorum core (vq.go):
// the service's callbacks that concern it, forwarded as they come.
type votequorum interface {
	attached(a svchost.Attachment)
	detached()
	confChg(c ipcproto.Conf)
	connect(c *svchost.Client) error
	disconnect(c *svchost.Client)
	request(c *svchost.Client, msg []byte) error
	deliver(from uint32, payload []byte, swapped bool)
	syncInit(r svchost.SyncRound)
	syncProcess(r svchost.SyncRound) bool
	syncActivate(r svchost.SyncRound)
	syncAbort()
	tick(now time.Time)
	// tickWanted: tick is needed (a timer armed, writes to retry).
	tickWanted() bool
	// info is the local node's getinfo answer, false before the core runs.
	info() (wire.VQInfo, bool)
}

func newService(c svchost.Config) (svchost.Service, error) {
	s := &service{log: c.Log, qlog: c.Log, host: c.Host, cfg: c}
	if c.Host != nil {
		s.log, s.qlog = c.Host.Logger("VOTEQ"), c.Host.Logger("QUORUM")
	}
	if v, ok := c.Keys["quorum.provider"]; ok {
		s.provider, _ = v.AsString()
		logsys.Notice(s.qlog, fmt.Sprintf("Using quorum provider %s", s.provider))
		switch s.provider {
		case "corosync_votequorum":
		case "corosync_ykd":
			return nil, initError(s.qlog, s.provider, "Invalid quorum provider (needle has no YKD)")
		default:
			return nil, initError(s.qlog, s.provider, "Invalid quorum provider")
		}
	}
	s.q = qsvc.New(s.provider != "")
	if s.provider != "" {
		vq, err := newVQAdapter(s, c)
		if err != nil {
			return nil, initError(s.qlog, s.provider, err.Error())
		}
		s.vq = vq
	}
	return s, nil
}

// initError is corosync's failed service engine load: CRIT "Quorum
// provider: X failed to initialize." and exit status 20 with the reason.
func initError(log hclog.Logger, provider, reason string) error {
	log.Error(fmt.Sprintf("Quorum provider: %s failed to initialize.", provider))
	return &coroconf.Error{Exit: exitServiceInit, Msg: fmt.Sprintf("Service engine 'corosync_quorum' failed to load for reason '%s'", reason)}
}

// Attached seeds the quorum service's member list with the current ring
// (so a quorumd restarted under a running ring reports it) and hands the
// attachment to votequorum, which rebuilds its view from the sync round
// that follows.
func (s *service) Attached(h svchost.Host, a svchost.Attachment) {
	s.host, s.attached, s.nodeID = h, true, a.NodeID
	s.served = false
	ring := wire.RingID{NodeID: a.Ring.Rep, Seq: a.Ring.Seq}
	s.qRing = false
	if len(a.RingMembers) > 0 {
		s.q.SyncInit(nil, a.RingMembers, ring)
		s.send(s.q.SyncActivate())
		s.qRing = true
	}
	if s.vq != nil {
		s.vq.attached(a)
	}
}

// CmapReady (svchost.CmapFollower): cmapd answered our tracking, after an
// attach or after it restarted with an empty runtime map; votequorum's
// runtime keys are written again.
func (s *service) CmapReady() {
	if a, ok := s.vq.(*vqAdapter); ok {
		a.rewriteAll()
	}
}

func (s *service) Detached() {
	s.attached, s.served = false, false
	if s.vq != nil {
		s.vq.detached()
	}
}

// Connect: clients are refused with EAGAIN (CS_ERR_TRY_AGAIN) until a
// sync round was activated since the attach (served); then every client
// is accepted on "quorum", and on "votequorum" with the provider loaded.
func (s *service) Connect(c *svchost.Client) error {
	if !s.served {
		return fmt.Errorf("%s not ready: no sync round completed since attaching to totemd: %w", c.Endpoint, syscall.EAGAIN)
	}
	switch c.Endpoint {
	case wire.QuorumEndpoint:
		s.q.Connect(c)
		return nil
	case wire.VotequorumEndpoint:
		if s.vq == nil {
			return fmt.Errorf("votequorum is not the quorum provider: %w", syscall.ECONNREFUSED)
		}
		return s.vq.connect(c)
	}
	return fmt.Errorf("unknown endpoint %q: %w", c.Endpoint, syscall.ENOSYS)
}

func (s *service) Disconnect(c *svchost.Client) {
	switch c.Endpoint {
	case wire.QuorumEndpoint:
		s.q.Disconnect(c)
	case wire.VotequorumEndpoint:
		if s.vq != nil {
			s.vq.disconnect(c)
		}
	}
}

// Request answers one libqb request. Malformed requests get corosync's
// generic CS_ERR_INVALID_PARAM reply and a log line naming the client;
// the client stays connected.
func (s *service) Request(c *svchost.Client, msg []byte) error {
	switch c.Endpoint {
	case wire.QuorumEndpoint:
		out, err := s.q.Request(c, msg)
		if err != nil {
			s.qlog.Warn("bad quorum request", "pid", c.Conn.Creds().PID, "error", err)
		}
		s.send(out)
		return nil
	case wire.VotequorumEndpoint:
		return s.vq.request(c, msg)
	}
	return fmt.Errorf("request on unknown endpoint %q", c.Endpoint)
}

// send carries out the quorum service's outputs.
func (s *service) send(out []qsvc.Out) {
	for _, o := range out {
		c := o.Client.(*svchost.Client)
		var err error
		if o.Event {
			err = c.SendEvent(o.Msg)
		} else {
			err = c.Respond(o.Msg)
		}
		if err != nil && !errors.Is(err, qbipc.ErrClosed) {
			s.qlog.Warn("quorum message not sent", "pid", c.Conn.Creds().PID, "event", o.Event, "error", err)
		}
	}
}

// setQuorum is the provider's report: stored by the quorum service, sent
// to its trackers, logged as corosync logs it.
func (s *service) setQuorum(view []uint32, quorate bool, ring wire.RingID) {
	out, changed := s.q.SetQuorum(view, quorate, ring)
	if changed {
		if quorate {
			logsys.Notice(s.qlog, "This node is within the primary component and will provide service.")
		} else {
			logsys.Notice(s.qlog, "This node is within the non-primary component and will NOT provide any services.")
		}
	}
	logsys.Notice(s.qlog, fmt.Sprintf("Members[%d]:%s", len(view), idList(view)))
	s.send(out)
}

func idList(ids []uint32) string {
	var b []byte
	for _, id := range ids {
		b = fmt.Appendf(b, " %d", id)
	}
	return string(b)
}
