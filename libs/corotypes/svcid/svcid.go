// Package svcid names Corosync's service ids (corosync's enum
// corosync_service_types in include/corosync/corodefs.h). The id is what
// the exec header of every ring message carries, what the sync engine
// orders its rounds by, and what a needle service daemon attaches to the
// bus with.
//
// The constants are untyped so they fit each place's own integer type
// (uint16 on the bus and in the exec header, int32 in the sync protocol).
package svcid

import "strconv"

// Corosync's service ids.
const (
	Cmap       = 0
	Cfg        = 1
	Cpg        = 2
	Quorum     = 3
	Pload      = 4
	Votequorum = 5
	Mon        = 6
	Wd         = 7
)

var names = [...]string{"cmap", "cfg", "cpg", "quorum", "pload", "votequorum", "mon", "wd"}

// Name returns the service's name ("cmap", …), or "service<N>" for an id
// corosync does not define.
func Name(id int) string {
	if id >= 0 && id < len(names) {
		return names[id]
	}
	return "service" + strconv.Itoa(id)
}
