package daemon

import (
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cmapd/internal/dispatch"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// ipcConn is one libqb client and its stats keys.
type ipcConn struct {
	cl    *svchost.Client
	stats []store.StatKey
}

// Connect registers an authorised client (svchost applied the uidgid
// rules, read from this map) and creates its stats keys.
func (s *service) Connect(c *svchost.Client) error {
	id := store.ConnID(c.Conn.ID())
	if err := s.st.Connect(id); err != nil {
		return err
	}
	cn := &ipcConn{cl: c, stats: c.StatKeys(serviceID)}
	s.conns[id] = cn
	s.ipcActive++
	for _, k := range cn.stats {
		s.deliver(s.st.PutStat(k.Key, svchost.ConnStatValue(cn.cl, k)))
	}
	s.putGlobalStats()
	return nil
}

// Request answers one client request at once.
func (s *service) Request(c *svchost.Client, msg []byte) error {
	id := store.ConnID(c.Conn.ID())
	if m, _ := s.st.CurrentMap(id); m == store.MapStats {
		s.refreshConnStats() // corosync computes these on every read
	}
	r := dispatch.Request(s.st, id, msg)
	if r.Err != nil {
		s.log.Debug("invalid request", "conn", c.Conn.ID(), "error", r.Err)
	}
	if r.Clear != 0 {
		s.log.Debug("statistics clear asked", "targets", int(r.Clear))
	}
	// Events first, as corosync queues them before it answers.
	s.sendEvents(r.Notify)
	s.internal(r.Internal)
	if r.Reply == nil {
		c.NoReply()
		return nil
	}
	if err := c.Respond(r.Reply); err != nil {
		s.log.Debug("response not sent", "conn", c.Conn.ID(), "error", err)
	}
	return nil
}

// Disconnect frees the connection's iterators, trackers and stats keys.
func (s *service) Disconnect(c *svchost.Client) {
	id := store.ConnID(c.Conn.ID())
	cn, ok := s.conns[id]
	if !ok {
		return
	}
	s.st.Disconnect(id)
	delete(s.conns, id)
	for _, k := range cn.stats {
		s.deliver(s.st.RemoveStat(k.Key))
	}
	s.ipcActive--
	s.ipcClosed++
	s.putGlobalStats()
}

func (s *service) putGlobalStats() {
	s.deliver(s.st.PutStat("stats.ipcs.global.active", value.U64(s.ipcActive)))
	s.deliver(s.st.PutStat("stats.ipcs.global.closed", value.U64(s.ipcClosed)))
}

// pollStats refreshes the per-connection counters and fires the stats
// map's exact-key trackers whose value changed.
func (s *service) pollStats() {
	s.refreshConnStats()
	s.deliver(s.st.PollStats())
}

func (s *service) refreshConnStats() {
	for _, cn := range s.conns {
		for _, k := range cn.stats {
			s.st.PutStat(k.Key, svchost.ConnStatValue(cn.cl, k))
		}
	}
}
