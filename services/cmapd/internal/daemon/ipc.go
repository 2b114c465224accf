package daemon

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/services/cmapd/internal/dispatch"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// serviceID is cmap's corosync service id, used in stats.ipcs keys.
const serviceID = 0

// ipcConn is one libqb client and its stats keys.
type ipcConn struct {
	qc       *qbipc.Conn
	stats    []store.StatKey
	procname string
}

// ipcHandler adapts qbipc's per-connection goroutines to the owner.
type ipcHandler struct{ d *Daemon }

// Connect applies corosync's rule: root (uid or gid 0) always, others
// when uidgid.uid.<uid>, uidgid.gid.<gid> or their uidgid.config.*
// forms are u8 1.
func (h *ipcHandler) Connect(c *qbipc.Conn) error {
	d := h.d
	err := fmt.Errorf("cmapd is shutting down")
	d.do(c.Context(), func() {
		if err = qbipc.Authorize(c.Creds(), d.allowed); err != nil {
			d.log.Error(fmt.Sprintf("Denied connection attempt from %d:%d", c.Creds().UID, c.Creds().GID))
			return
		}
		id := store.ConnID(c.ID())
		if err = d.st.Connect(id); err != nil {
			return
		}
		cn := &ipcConn{qc: c, procname: procName(c.Creds().PID),
			stats: store.ConnStats(serviceID, uint32(c.Creds().PID), fmt.Sprintf("0x%x", c.ID()))}
		d.conns[id] = cn
		d.ipcActive++
		for _, k := range cn.stats {
			d.deliver(d.st.PutStat(k.Key, d.connStat(cn, k)))
		}
		d.putGlobalStats()
	})
	return err
}

// Request runs one client request on the owner goroutine.
func (h *ipcHandler) Request(c *qbipc.Conn, msg []byte) ([]byte, error) {
	d := h.d
	var reply []byte
	ok := d.do(c.Context(), func() {
		if m, _ := d.st.CurrentMap(store.ConnID(c.ID())); m == store.MapStats {
			d.refreshConnStats() // corosync computes these on every read
		}
		r := dispatch.Request(d.st, store.ConnID(c.ID()), msg)
		if r.Err != nil {
			d.log.Debug("invalid request", "conn", c.ID(), "error", r.Err)
		}
		if r.Clear != 0 {
			d.log.Debug("statistics clear asked", "targets", int(r.Clear))
		}
		reply = r.Reply
		d.sendEvents(r.Notify)
		d.internal(r.Internal)
	})
	if !ok {
		return nil, fmt.Errorf("cmapd is shutting down")
	}
	return reply, nil
}

// Disconnect frees the connection's iterators, trackers and stats keys.
func (h *ipcHandler) Disconnect(c *qbipc.Conn) {
	d := h.d
	// The connection's own context is over; the owner may still be
	// running, so wait on the daemon alone.
	d.do(context.Background(), func() {
		id := store.ConnID(c.ID())
		cn, ok := d.conns[id]
		if !ok {
			return
		}
		d.st.Disconnect(id)
		delete(d.conns, id)
		for _, k := range cn.stats {
			d.deliver(d.st.RemoveStat(k.Key))
		}
		d.ipcActive--
		d.ipcClosed++
		d.putGlobalStats()
	})
}

// allowed reads the uidgid keys a client's ids need.
func (d *Daemon) allowed(uid, gid uint32) bool {
	for _, k := range []string{
		fmt.Sprintf("uidgid.uid.%d", uid), fmt.Sprintf("uidgid.gid.%d", gid),
		fmt.Sprintf("uidgid.config.uid.%d", uid), fmt.Sprintf("uidgid.config.gid.%d", gid),
	} {
		if v, ok := d.st.Get(k); ok && v.Type == value.Uint8 && len(v.Data) == 1 && v.Data[0] == 1 {
			return true
		}
	}
	return false
}

// procName is /proc/<pid>/comm, as libqb records a client's name.
func procName(pid int32) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimRight(string(b), "\n")
}

// connStat is the current value of one per-connection statistic.
func (d *Daemon) connStat(cn *ipcConn, k store.StatKey) value.Value {
	s := cn.qc.Stats()
	leaf := k.Key[strings.LastIndexByte(k.Key, '.')+1:]
	var n uint64
	switch leaf {
	case "procname":
		return value.Str(cn.procname)
	case "queued":
		n = uint64(s.EventsQueued)
	case "queueing":
		if s.EventsQueued > 0 {
			n = 1
		}
	case "sent":
		n = s.Events
	case "requests":
		n = s.Requests
	case "responses":
		n = s.Responses
	case "dispatched":
		n = s.Events
	case "send_retries":
		n = s.SendRetries
	case "flow_control":
		n = uint64(s.FlowControl)
	case "flow_control_count":
		n = s.FlowControlCount
	}
	v := zero(k.Type)
	switch len(v.Data) {
	case 4:
		binary.NativeEndian.PutUint32(v.Data, uint32(n))
	case 8:
		binary.NativeEndian.PutUint64(v.Data, n)
	}
	return v
}

func (d *Daemon) putGlobalStats() {
	d.deliver(d.st.PutStat("stats.ipcs.global.active", value.U64(d.ipcActive)))
	d.deliver(d.st.PutStat("stats.ipcs.global.closed", value.U64(d.ipcClosed)))
}

// pollStats refreshes the per-connection counters and fires the stats
// map's exact-key trackers whose value changed.
func (d *Daemon) pollStats() {
	d.refreshConnStats()
	d.deliver(d.st.PollStats())
}

func (d *Daemon) refreshConnStats() {
	for _, cn := range d.conns {
		for _, k := range cn.stats {
			d.st.PutStat(k.Key, d.connStat(cn, k))
		}
	}
}
