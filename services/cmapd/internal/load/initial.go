// Package load builds cmapd's map from corosync.conf: the start-up map
// (the parsed configuration plus the keys corosync's components add when
// they start, spec/cmap.md §6.1) and the reload plan of `corosync-cfgtool
// -R` (§10) as a pure function of the live map and the new file.
package load

import (
	"strconv"
	"strings"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// Service is one of corosync's service engines as the map lists it.
type Service struct {
	ID       uint16
	Name     string // internal_configuration.service.<id>.name
	ExecMsgs int    // ring message types: runtime.services.<short>.<n>.tx/rx
}

// Short is the name runtime.services.* uses: the part after the last '_'.
func (s Service) Short() string { return s.Name[strings.LastIndexByte(s.Name, '_')+1:] }

// Services are the engines of corosync 3.1.7 in id order. needle lists
// them all, whichever daemon implements each, so the map looks the same.
func Services() []Service {
	return []Service{
		{0, "corosync_cmap", 1}, {1, "corosync_cfg", 5}, {2, "corosync_cpg", 7},
		{3, "corosync_quorum", 0}, {4, "corosync_pload", 2}, {5, "corosync_votequorum", 4},
		{6, "corosync_mon", 0}, {7, "corosync_wd", 0},
	}
}

// Watchdog and resource monitor defaults (exec/wd.c, exec/mon.c).
const (
	WatchdogTimeoutDefault = 6 // seconds
	watchdogTimeoutMin     = 2
	watchdogTimeoutMax     = 120
	monPollPeriodDefault   = 3000 // ms
)

// Initial returns the start-up map of a node: derived is the configuration
// as coroconf.Load and coroconf.ReadTotem leave it (file keys plus
// runtime.config.totem.*, nodelist.local_node_pos and the generated
// interface keys), to which Initial adds what the service engines write
// when they start: the service list and message counters, the blackbox
// and force_gather triggers, the watchdog timeout and the resource
// monitors' state. Membership (runtime.members.*) and votequorum keys
// arrive later from totemd and quorumd.
func Initial(derived coroconf.Map) map[string]value.Value {
	m := make(map[string]value.Value, len(derived)+64)
	for k, v := range derived {
		m[k] = v.Clone()
	}
	for _, s := range Services() {
		id := strconv.Itoa(int(s.ID))
		m["internal_configuration.service."+id+".name"] = value.Str(s.Name)
		m["internal_configuration.service."+id+".ver"] = value.U32(0)
		m["runtime.services."+s.Short()+".service_id"] = value.U16(s.ID)
		for n := 0; n < s.ExecMsgs; n++ {
			m["runtime.services."+s.Short()+"."+strconv.Itoa(n)+".tx"] = value.U64(0)
			m["runtime.services."+s.Short()+"."+strconv.Itoa(n)+".rx"] = value.U64(0)
		}
	}
	m["runtime.blackbox.dump_flight_data"] = value.Str("no")
	m["runtime.blackbox.dump_state"] = value.Str("no")
	m["runtime.force_gather"] = value.Str("no")
	// wd: a missing, non-u32 or out-of-range timeout is replaced by 6 s.
	if t, ok := m["resources.watchdog_timeout"].AsUint(); !ok || m["resources.watchdog_timeout"].Type != value.Uint32 ||
		t < watchdogTimeoutMin || t > watchdogTimeoutMax {
		m["resources.watchdog_timeout"] = value.U32(WatchdogTimeoutDefault)
	}
	// mon: two resources; poll_period is kept when it is a string sscanf
	// reads as a number (corosync leaves such a key as it is).
	for _, r := range []struct {
		path    string
		current value.Value
	}{
		{"resources.system.memory_used.", value.I32(0)},
		{"resources.system.load_15min.", value.F64(0)},
	} {
		m[r.path+"current"] = r.current
		m[r.path+"last_updated"] = value.U64(0)
		m[r.path+"state"] = value.Str("stopped")
		if s, ok := m[r.path+"poll_period"].AsString(); !ok || !leadingNumber(s) {
			m[r.path+"poll_period"] = value.U64(monPollPeriodDefault)
		}
	}
	return m
}

// leadingNumber reports whether sscanf("%llu") reads a number from s.
func leadingNumber(s string) bool {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return s != "" && s[0] >= '0' && s[0] <= '9'
}
