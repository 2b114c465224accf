package store

import (
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

// ConnStats are the keys of one IPC connection (cmapreq.ConnStats: other
// daemons publish theirs with the same list).
func ConnStats(service uint16, pid uint32, token string) []StatKey {
	return cmapreq.ConnStats(service, pid, token)
}
