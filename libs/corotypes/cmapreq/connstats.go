package cmapreq

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// ConnStats are the stats-map keys of one libqb connection, in the order
// corosync creates (and deletes) them, which is the order trackers see:
// the segment is service<id>.<pid>.<token>, where corosync prints its
// connection pointer as the token ("0x55cd…"); any token that is unique
// and stable for the connection's lifetime will do. cmapd creates them for
// its own clients; every other daemon sends them with PutStatsInOrder.
func ConnStats(service uint16, pid uint32, token string) []Stat {
	p := fmt.Sprintf("stats.ipcs.service%d.%d.%s.", service, pid, token)
	return []Stat{
		{Key: p + "queueing", Type: value.Int32}, {Key: p + "queued", Type: value.Uint32}, {Key: p + "invalid_request", Type: value.Uint64},
		{Key: p + "overload", Type: value.Uint64}, {Key: p + "sent", Type: value.Uint32}, {Key: p + "procname", Type: value.String},
		{Key: p + "requests", Type: value.Uint64}, {Key: p + "responses", Type: value.Uint64}, {Key: p + "dispatched", Type: value.Uint64},
		{Key: p + "send_retries", Type: value.Uint64}, {Key: p + "recv_retries", Type: value.Uint64}, {Key: p + "flow_control", Type: value.Uint32},
		{Key: p + "flow_control_count", Type: value.Uint64},
	}
}

// PutStatsInOrder is PutStats keeping the given order (creation order
// matters to trackers of a prefix).
func PutStatsInOrder(keys []string, vals []value.Value) []byte {
	reqs := [][]byte{cmapwire.SetCurrentMap{Map: 1}.Encode()}
	for i, k := range keys {
		reqs = append(reqs, cmapwire.Set{Key: k, Type: vals[i].Type, Value: vals[i].Data}.Encode())
	}
	return Batch(reqs...)
}

// DeleteStats builds the batch that removes statistics, in order.
func DeleteStats(keys []string) []byte {
	reqs := [][]byte{cmapwire.SetCurrentMap{Map: 1}.Encode()}
	for _, k := range keys {
		reqs = append(reqs, cmapwire.Delete{Key: k}.Encode())
	}
	return Batch(reqs...)
}
