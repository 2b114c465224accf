package store

import (
	"fmt"

	"github.com/needle-cluster/needle/services/cmapd/value"
)

// StatKey is a stats-map key and the type its value has.
type StatKey struct {
	Key  string
	Type value.Type
}

// StaticStats are the keys the stats map always has (corosync creates them
// at start-up, before any connection): totempg, totemsrp and the global
// IPC counters. The driver fills their values with PutStat.
func StaticStats() []StatKey {
	var ks []StatKey
	for _, n := range []string{"msg_queue_avail", "msg_reserved"} {
		ks = append(ks, StatKey{"stats.pg." + n, value.Uint32})
	}
	for _, n := range []string{"orf_token_tx", "orf_token_rx", "memb_merge_detect_tx", "memb_merge_detect_rx",
		"memb_join_tx", "memb_join_rx", "mcast_tx", "mcast_retx", "mcast_rx", "memb_commit_token_tx",
		"memb_commit_token_rx", "token_hold_cancel_tx", "token_hold_cancel_rx", "operational_entered",
		"operational_token_lost", "gather_entered", "gather_token_lost", "commit_entered",
		"commit_token_lost", "recovery_entered", "recovery_token_lost", "consensus_timeouts",
		"rx_msg_dropped", "time_since_token_last_received"} {
		ks = append(ks, StatKey{"stats.srp." + n, value.Uint64})
	}
	for _, n := range []string{"continuous_gather", "continuous_sendmsg_failures"} {
		ks = append(ks, StatKey{"stats.srp." + n, value.Uint32})
	}
	ks = append(ks, StatKey{"stats.srp.firewall_enabled_or_nic_failure", value.Uint8})
	for _, n := range []string{"mtt_rx_token", "avg_token_workload", "avg_backlog_calc"} {
		ks = append(ks, StatKey{"stats.srp." + n, value.Uint32})
	}
	return append(ks, StatKey{"stats.ipcs.global.active", value.Uint64}, StatKey{"stats.ipcs.global.closed", value.Uint64})
}

// ConnStats are the keys of one IPC connection, in the order corosync
// creates (and deletes) them, which is the order trackers see: the
// segment is service<id>.<pid>.<token>, where corosync prints its
// connection pointer as the token ("0x55cd…"); any token that is unique
// and stable for the connection's lifetime will do.
func ConnStats(service uint16, pid uint32, token string) []StatKey {
	p := fmt.Sprintf("stats.ipcs.service%d.%d.%s.", service, pid, token)
	return []StatKey{
		{p + "queueing", value.Int32}, {p + "queued", value.Uint32}, {p + "invalid_request", value.Uint64},
		{p + "overload", value.Uint64}, {p + "sent", value.Uint32}, {p + "procname", value.String},
		{p + "requests", value.Uint64}, {p + "responses", value.Uint64}, {p + "dispatched", value.Uint64},
		{p + "send_retries", value.Uint64}, {p + "recv_retries", value.Uint64}, {p + "flow_control", value.Uint32},
		{p + "flow_control_count", value.Uint64},
	}
}
