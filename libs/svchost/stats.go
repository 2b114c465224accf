package svchost

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/svcid"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// Per-connection statistics: corosync keeps stats.ipcs.service<S>.<pid>.
// <conn>.* in the stats map for every libqb client of every service. cmapd
// owns that map and keeps its own clients' keys; every other daemon
// publishes its clients' keys to cmapd through the bus (cmapreq batches):
// created on connect, refreshed every StatsPeriod, deleted on disconnect,
// and sent again after cmapd says hello (a new cmapd has none of them).

// StatsPeriod is how often published statistics are refreshed (corosync's
// stats updater runs every 1.5 s).
const StatsPeriod = 1500 * time.Millisecond

// StatKeys are c's stats-map keys (cmapreq.ConnStats) for service id svc.
func (c *Client) StatKeys(svc uint16) []cmapreq.Stat {
	return cmapreq.ConnStats(svc, uint32(c.Conn.Creds().PID), fmt.Sprintf("0x%x", c.Conn.ID()))
}

// ConnStatValue is the current value of one of c's stats keys.
func ConnStatValue(c *Client, k cmapreq.Stat) value.Value {
	st := c.Stats()
	leaf := k.Key[strings.LastIndexByte(k.Key, '.')+1:]
	var n uint64
	switch leaf {
	case "procname":
		return value.Str(c.ProcName())
	case "queued":
		n = uint64(st.EventsQueued)
	case "queueing":
		if st.EventsQueued > 0 {
			n = 1
		}
	case "sent", "dispatched":
		n = st.Events
	case "requests":
		n = st.Requests
	case "responses":
		n = st.Responses
	case "send_retries":
		n = st.SendRetries
	case "flow_control":
		n = uint64(st.FlowControl)
	case "flow_control_count":
		n = st.FlowControlCount
	}
	v := value.Value{Type: k.Type, Data: make([]byte, k.Type.Size())}
	switch len(v.Data) {
	case 4:
		binary.NativeEndian.PutUint32(v.Data, uint32(n))
	case 8:
		binary.NativeEndian.PutUint64(v.Data, n)
	}
	return v
}

// endpointServiceID is the Corosync service id whose stats keys an
// endpoint's clients get: the id named like the endpoint, else the
// daemon's own.
func endpointServiceID(name string, fallback uint16) uint16 {
	for id := 0; id <= svcid.Wd; id++ {
		if svcid.Name(id) == name {
			return uint16(id)
		}
	}
	return fallback
}

// statsHandler wraps the Service for one endpoint of a daemon that is not
// cmapd and publishes its clients' statistics.
type statsHandler struct {
	d   *Daemon
	svc uint16
}

func (h statsHandler) Connect(c *Client) error {
	if err := h.d.svc.Connect(c); err != nil {
		return err
	}
	h.d.stats[c] = c.StatKeys(h.svc)
	h.d.publishStats(c)
	return nil
}

func (h statsHandler) Request(c *Client, msg []byte) error { return h.d.svc.Request(c, msg) }

func (h statsHandler) Disconnect(c *Client) {
	h.d.svc.Disconnect(c)
	keys := h.d.stats[c]
	delete(h.d.stats, c)
	if len(keys) > 0 {
		names := make([]string, len(keys))
		for i, k := range keys {
			names[len(keys)-1-i] = k.Key
		}
		h.d.bus.request(cmapService, cmapreq.DeleteStats(names), nil)
	}
}

// publishStats sends c's current statistics to cmapd (creating them the
// first time); nothing while detached.
func (d *Daemon) publishStats(c *Client) {
	keys := d.stats[c]
	if len(keys) == 0 || !d.bus.attached {
		return
	}
	names := make([]string, len(keys))
	vals := make([]value.Value, len(keys))
	for i, k := range keys {
		names[i], vals[i] = k.Key, ConnStatValue(c, k)
	}
	d.bus.request(cmapService, cmapreq.PutStatsInOrder(names, vals), nil)
}

// publishAllStats refreshes every client's statistics.
func (d *Daemon) publishAllStats() {
	for c := range d.stats {
		d.publishStats(c)
	}
}
