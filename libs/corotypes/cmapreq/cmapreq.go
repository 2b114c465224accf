// Package cmapreq is the format of requests other needle daemons (totemd,
// quorumd, cpgd) send to cmapd over the service bus, so they can write
// runtime keys and statistics and ask for a configuration reload.
//
// A request is an ipcproto KindRequest with Service 0 (cmap). Its Payload
// is a batch: one or more cmap IPC requests (package cmapwire, each with its
// 16-byte libqb header whose size field is its length) laid end to end.
// cmapd runs them in order with the daemon's rights (no read-only rules):
//
//   - SET, DELETE, ADJUST_INT and GET act on the icmap, as for a client;
//   - SET_CURRENT_MAP 1 switches the rest of the batch to the stats map,
//     where SET creates or refreshes a statistic (trackers see ADD on
//     creation and MODIFY at the next 1.5 s poll) and DELETE removes one;
//     SET_CURRENT_MAP 0 switches back;
//   - Reload (id 1000, header only) re-reads corosync.conf as
//     `corosync-cfgtool -R` does on each node; its reply carries the
//     reload's log lines after the status.
//
// cmapd answers with KindResponse{ID, Service: sender, Status, Payload}:
// Payload holds one reply per request, in order, each a wire reply with
// its 24-byte header (Reload: ReloadReply); Status is the first non-OK
// cs_error_t of the batch, or OK. A batch that does not split into whole
// requests is refused as a whole with CS_ERR_INVALID_PARAM and no replies.
// The response's Service is the request's as cmapd received it: totemd
// routing between services puts the sender's id there; when totemd itself
// asks (e.g. a reload for cfg), it picks the id and must take the
// response with that id for itself instead of routing it.
package cmapreq

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

var ne = binary.NativeEndian

// ReqReload is the needle-only request id of a configuration reload; its
// reply has the same id.
const ReqReload int32 = 1000

// Reload returns the reload request (a bare 16-byte header).
func Reload() []byte {
	b := make([]byte, cmapwire.ReqHeaderSize)
	ne.PutUint32(b[0:], uint32(ReqReload))
	ne.PutUint32(b[8:], cmapwire.ReqHeaderSize)
	return b
}

// ReloadReply is the reply to Reload: a 24-byte header with the reload's
// cs_error_t, then its log lines, each ending in '\n'.
func ReloadReply(st cs.Error, log []string) []byte {
	n := cmapwire.RespHeaderSize
	for _, l := range log {
		n += len(l) + 1
	}
	b := make([]byte, cmapwire.RespHeaderSize, n)
	ne.PutUint32(b[0:], uint32(ReqReload))
	ne.PutUint32(b[8:], uint32(n))
	ne.PutUint32(b[16:], uint32(st))
	for _, l := range log {
		b = append(b, l...)
		b = append(b, '\n')
	}
	return b
}

// Batch concatenates requests into one payload.
func Batch(reqs ...[]byte) []byte {
	var n int
	for _, r := range reqs {
		n += len(r)
	}
	b := make([]byte, 0, n)
	for _, r := range reqs {
		b = append(b, r...)
	}
	return b
}

// Split cuts a payload into its messages by their header size fields
// (offset 8), for requests (headerSize 16) and replies (24) alike.
func Split(b []byte, headerSize int) ([][]byte, error) {
	var out [][]byte
	for off := 0; off < len(b); {
		if len(b)-off < headerSize {
			return nil, fmt.Errorf("bus batch: %d bytes left at offset %d, shorter than a %d-byte header", len(b)-off, off, headerSize)
		}
		size := int(int32(ne.Uint32(b[off+8:])))
		if size < headerSize || size > len(b)-off {
			return nil, fmt.Errorf("bus batch: message at offset %d has size %d, %d bytes left", off, size, len(b)-off)
		}
		out = append(out, b[off:off+size])
		off += size
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bus batch: empty")
	}
	return out, nil
}

// Stat is one statistic of the stats map with the type cmapd keeps it as.
type Stat struct {
	Key  string
	Type value.Type
}

// TotemStats are the stats.pg.* and stats.srp.* keys totemd owns, with
// their types, in the order corosync creates them; a batch must send each
// with exactly this type. cmapd creates them at start-up (its static
// stats), so this list is their one definition.
func TotemStats() []Stat {
	var ks []Stat
	for _, n := range []string{"msg_queue_avail", "msg_reserved"} {
		ks = append(ks, Stat{"stats.pg." + n, value.Uint32})
	}
	for _, n := range []string{"orf_token_tx", "orf_token_rx", "memb_merge_detect_tx", "memb_merge_detect_rx",
		"memb_join_tx", "memb_join_rx", "mcast_tx", "mcast_retx", "mcast_rx", "memb_commit_token_tx",
		"memb_commit_token_rx", "token_hold_cancel_tx", "token_hold_cancel_rx", "operational_entered",
		"operational_token_lost", "gather_entered", "gather_token_lost", "commit_entered",
		"commit_token_lost", "recovery_entered", "recovery_token_lost", "consensus_timeouts",
		"rx_msg_dropped", "time_since_token_last_received"} {
		ks = append(ks, Stat{"stats.srp." + n, value.Uint64})
	}
	for _, n := range []string{"continuous_gather", "continuous_sendmsg_failures"} {
		ks = append(ks, Stat{"stats.srp." + n, value.Uint32})
	}
	ks = append(ks, Stat{"stats.srp.firewall_enabled_or_nic_failure", value.Uint8})
	for _, n := range []string{"mtt_rx_token", "avg_token_workload", "avg_backlog_calc"} {
		ks = append(ks, Stat{"stats.srp." + n, value.Uint32})
	}
	return ks
}

// PutStats builds the batch that refreshes statistics: SET_CURRENT_MAP 1,
// then one SET per value.
func PutStats(vals map[string]value.Value) []byte {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	reqs := [][]byte{cmapwire.SetCurrentMap{Map: 1}.Encode()}
	for _, k := range keys {
		v := vals[k]
		reqs = append(reqs, cmapwire.Set{Key: k, Type: v.Type, Value: v.Data}.Encode())
	}
	return Batch(reqs...)
}
