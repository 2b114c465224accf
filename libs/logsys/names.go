package logsys

import "strings"

// Priority is a syslog severity (0 emerg … 7 debug) plus libqb's extra
// trace level 8. A message passes a filter when its priority is <= the
// filter's threshold.
type Priority int

// Priorities in syslog order.
const (
	PriEmerg Priority = iota
	PriAlert
	PriCrit
	PriErr
	PriWarning
	PriNotice
	PriInfo
	PriDebug
	PriTrace
)

// priorityNames are the names libqb prints for %p (note "error", not "err").
var priorityNames = [...]string{"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug", "trace"}

// String returns the name libqb prints in log lines.
func (p Priority) String() string {
	if p < PriEmerg || p > PriTrace {
		return "trace"
	}
	return priorityNames[p]
}

// parsePriority accepts the names corosync's logsys accepts in
// logfile_priority/syslog_priority: case-insensitive, "err" and "error"
// both meaning PriErr, and no "trace".
func parsePriority(s string) (Priority, bool) {
	switch strings.ToLower(s) {
	case "emerg":
		return PriEmerg, true
	case "alert":
		return PriAlert, true
	case "crit":
		return PriCrit, true
	case "err", "error":
		return PriErr, true
	case "warning":
		return PriWarning, true
	case "notice":
		return PriNotice, true
	case "info":
		return PriInfo, true
	case "debug":
		return PriDebug, true
	}
	return 0, false
}

// Facility is a syslog facility code as in <syslog.h> (LOG_DAEMON = 3<<3).
type Facility int

// FacilityDaemon is corosync's default facility.
const FacilityDaemon Facility = 3 << 3

// facilityNames is libqb's facility table; lookups are case-sensitive.
var facilityNames = map[string]Facility{
	"auth": 4 << 3, "authpriv": 10 << 3, "cron": 9 << 3, "daemon": 3 << 3,
	"ftp": 11 << 3, "kern": 0, "lpr": 6 << 3, "mail": 2 << 3, "news": 7 << 3,
	"syslog": 5 << 3, "user": 1 << 3, "uucp": 8 << 3,
	"local0": 16 << 3, "local1": 17 << 3, "local2": 18 << 3, "local3": 19 << 3,
	"local4": 20 << 3, "local5": 21 << 3, "local6": 22 << 3, "local7": 23 << 3,
}

// String returns the libqb name of f.
func (f Facility) String() string {
	for n, v := range facilityNames {
		if v == f {
			return n
		}
	}
	return "unknown"
}
