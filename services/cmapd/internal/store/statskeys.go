package store

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// StatKey is a stats-map key and the type its value has.
type StatKey = cmapreq.Stat

// StaticStats are the keys the stats map always has (corosync creates them
// at start-up, before any connection): totempg and totemsrp (whose list
// lives in cmapreq, as totemd writes them) and the global IPC counters.
// The driver fills their values with PutStat.
func StaticStats() []StatKey {
	return append(cmapreq.TotemStats(), StatKey{Key: "stats.ipcs.global.active", Type: value.Uint64}, StatKey{Key: "stats.ipcs.global.closed", Type: value.Uint64})
}

// ConnStats are the keys of one IPC connection, in the order corosync
// creates (and deletes) them, which is the order trackers see: the
// segment is service<id>.<pid>.<token>, where corosync prints its
// connection pointer as the token ("0x55cd…"); any token that is unique
// and stable for the connection's lifetime will do.
func ConnStats(service uint16, pid uint32, token string) []StatKey {
	p := fmt.Sprintf("stats.ipcs.service%d.%d.%s.", service, pid, token)
	return []StatKey{
		{Key: p + "queueing", Type: value.Int32}, {Key: p + "queued", Type: value.Uint32}, {Key: p + "invalid_request", Type: value.Uint64},
		{Key: p + "overload", Type: value.Uint64}, {Key: p + "sent", Type: value.Uint32}, {Key: p + "procname", Type: value.String},
		{Key: p + "requests", Type: value.Uint64}, {Key: p + "responses", Type: value.Uint64}, {Key: p + "dispatched", Type: value.Uint64},
		{Key: p + "send_retries", Type: value.Uint64}, {Key: p + "recv_retries", Type: value.Uint64}, {Key: p + "flow_control", Type: value.Uint32},
		{Key: p + "flow_control_count", Type: value.Uint64},
	}
}
