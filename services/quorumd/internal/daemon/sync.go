package daemon

import (
	"time"

	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

func ringOf(r svchost.SyncRound) wire.RingID { return wire.RingID{NodeID: r.Ring.Rep, Seq: r.Ring.Seq} }

// ConfChg: membership reaches the cores through the sync rounds;
// votequorum only keeps the ring's members for the per-service rounds.
func (s *service) ConfChg(c ipcproto.Conf) {
	if c.Type == ipcproto.Regular {
		s.ringMembers = c.RingMembers
	}
	if s.vq != nil {
		s.vq.confChg(c)
	}
}

// Deliver is a votequorum ring message (NODEINFO, RECONFIGURE,
// QDEVICE_REG, QDEVICE_RECONFIGURE); the quorum service has none.
func (s *service) Deliver(from uint32, payload []byte, swapped bool) {
	if s.vq != nil {
		s.vq.deliver(from, payload, swapped)
	}
}

// SyncInit: a ring change (FullSync) is a sync of both services, as in
// corosync, where the sync engine runs the services one after the other:
// quorum (3) is initialised and activated, sending its V1 nodelist
// notifications, before votequorum (5) starts. The quorum service has no
// ring messages and nothing to abort, so both of its steps happen here. A
// round that only follows a quorumd attaching or leaving somewhere
// (ServiceSync) concerns votequorum's NODEINFO exchange only: quorum
// clients see ring changes, not daemon restarts.
func (s *service) SyncInit(r svchost.SyncRound) {
	if r.Kind == svchost.FullSync {
		joined, left := s.q.SyncInit(r.Trans, r.Members, ringOf(r))
		logsys.Notice(s.qlog, "Sync members["+itoa(len(r.Members))+"]:"+idList(r.Members))
		if len(joined) > 0 {
			logsys.Notice(s.qlog, "Sync joined["+itoa(len(joined))+"]:"+idList(joined))
		}
		if len(left) > 0 {
			logsys.Notice(s.qlog, "Sync left["+itoa(len(left))+"]:"+idList(left))
		}
		s.send(s.q.SyncActivate())
		s.qRing = true
	} else if !s.qRing && len(s.ringMembers) > 0 {
		// Attached while the ring's full round ran: this round of its own
		// is the first that shows the ring to the quorum service.
		s.q.SyncInit(nil, s.ringMembers, ringOf(r))
		s.send(s.q.SyncActivate())
		s.qRing = true
	}
	if s.vq != nil {
		s.vq.syncInit(r)
	}
}

func (s *service) SyncProcess(r svchost.SyncRound) bool {
	if s.vq == nil {
		return true
	}
	return s.vq.syncProcess(r)
}

// SyncActivate is votequorum's; its quorum report reaches the quorum
// service's trackers after votequorum's own.
func (s *service) SyncActivate(r svchost.SyncRound) {
	s.served = true
	if s.vq != nil {
		s.vq.syncActivate(r)
	}
}

func (s *service) SyncAbort() {
	if s.vq != nil {
		s.vq.syncAbort()
	}
}

func (s *service) Tick(now time.Time) {
	if s.vq != nil {
		s.vq.tick(now)
	}
}

func itoa(n int) string { return idList([]uint32{uint32(n)})[1:] }

// TickWanted: the host ticks quorumd only while its core has a timer armed
// or cmap writes to retry (vqAdapter.tickWanted).
func (s *service) TickWanted() bool { return s.vq != nil && s.vq.tickWanted() }
