// Package logsys turns corosync's logging.* configuration keys into named
// go-hclog loggers that write stderr, log file and syslog lines the way
// corosync 3.1.7 (logsys on top of libqb) does.
//
// Parse validates the keys without touching the system; Open builds the
// sinks; Logsys.Apply re-applies a new Config at runtime, as corosync does
// whenever a logging.* key changes.
package logsys

import (
	"sort"
	"strings"
)

// Timestamp selects the timestamp prefix of stderr and log file lines.
type Timestamp int

// Timestamp settings ("off", "on", "hires").
const (
	TimestampOff   Timestamp = iota
	TimestampOn              // "Nov 24 16:53:38"
	TimestampHires           // "Nov 24 16:53:38.081"
)

// Debug is a subsystem's debug setting; on and trace lower every filter
// of that subsystem to debug or trace whatever the priorities say.
type Debug int

// Debug settings ("off", "on", "trace").
const (
	DebugOff Debug = iota
	DebugOn
	DebugTrace
)

// Settings are the per-subsystem parts of the logging configuration.
type Settings struct {
	ToLogfile       bool
	Logfile         string
	LogfileSet      bool // logfile key present; corosync opens it even when empty or unused
	LogfilePriority Priority
	SyslogPriority  Priority
	Debug           Debug
}

// fileThreshold filters stderr and the log file: in corosync both use
// logfile_priority, unless debug overrides it.
func (s Settings) fileThreshold() Priority {
	return s.Debug.override(s.LogfilePriority)
}

func (s Settings) syslogThreshold() Priority {
	return s.Debug.override(s.SyslogPriority)
}

func (d Debug) override(p Priority) Priority {
	switch d {
	case DebugOn:
		return PriDebug
	case DebugTrace:
		return PriTrace
	}
	return p
}

// Config is a validated logging configuration. Treat it as immutable once
// passed to Open or Apply.
type Config struct {
	Timestamp    Timestamp
	FileLine     bool
	FunctionName bool
	Blackbox     bool // validated only; needle has no flight recorder

	// ToStderr and ToSyslog switch the whole stderr and syslog output.
	// corosync 3.1.7 honours only the top-level keys: logger_subsys
	// to_stderr/to_syslog are validated and then have no effect.
	ToStderr bool
	ToSyslog bool
	// Facility is global in libqb; every logger_subsys block re-sets it
	// (to daemon when the block has no syslog_facility), so the block
	// processed last wins, as in corosync.
	Facility Facility

	Default Settings            // top level, used by subsystems without a block
	Subsys  map[string]Settings // effective settings per logger_subsys block
	// Warnings for deprecated keys, in corosync's words.
	Warnings []string
}

// For returns the effective settings of subsystem name.
func (c *Config) For(name string) Settings {
	if s, ok := c.Subsys[name]; ok {
		return s
	}
	return c.Default
}

// Error is a rejected logging value. Error() is corosync's reason text
// (what follows "parse error in config: "); Key names the offending key.
type Error struct {
	Key    string
	Reason string
}

func (e *Error) Error() string { return e.Reason }

// maxSubsysName is LOGSYS_MAX_SUBSYS_NAMELEN: names must be shorter.
const maxSubsysName = 64

const subsysPrefix = "logging.logger_subsys."

// Parse validates the logging.* keys of a flat config map (other keys are
// ignored) in corosync 3.1.7's order and returns the effective
// configuration with 3.1.7's defaults. It opens nothing: a bad logfile
// path is reported by Open.
func Parse(keys map[string]string) (*Config, error) {
	c := &Config{
		Timestamp: TimestampHires,
		Blackbox:  true,
		Subsys:    map[string]Settings{},
	}
	if err := c.parseGlobal(keys); err != nil {
		return nil, err
	}
	if err := c.parseLevel(keys, "logging", &c.Default, true); err != nil {
		return nil, err
	}
	for _, name := range subsystems(keys) {
		if len(name) >= maxSubsysName {
			return nil, &Error{Key: subsysPrefix + name + ".subsys", Reason: "unable to create new logging subsystem"}
		}
		s := c.Default
		if err := c.parseLevel(keys, subsysPrefix+name, &s, false); err != nil {
			return nil, err
		}
		c.Subsys[name] = s
	}
	return c, nil
}

// subsystems lists the logger_subsys blocks in the order corosync walks
// them: sorted by the full "…NAME.subsys" key. Names with a dot are
// skipped, as corosync's key scan skips them.
func subsystems(keys map[string]string) []string {
	var found []string
	for k := range keys {
		rest, ok := strings.CutPrefix(k, subsysPrefix)
		if !ok {
			continue
		}
		name, item, ok := strings.Cut(rest, ".")
		if ok && name != "" && item == "subsys" {
			found = append(found, k)
		}
	}
	sort.Strings(found)
	for i, k := range found {
		found[i] = strings.TrimSuffix(strings.TrimPrefix(k, subsysPrefix), ".subsys")
	}
	return found
}

// parseGlobal reads the top-level-only keys.
func (c *Config) parseGlobal(keys map[string]string) error {
	if v, ok := keys["logging.fileline"]; ok {
		b, ok := onOff(v)
		if !ok {
			return &Error{Key: "logging.fileline", Reason: "unknown value for fileline"}
		}
		c.FileLine = b
	}
	if v, ok := keys["logging.function_name"]; ok {
		b, ok := onOff(v)
		if !ok {
			return &Error{Key: "logging.function_name", Reason: "unknown value for function_name"}
		}
		c.FunctionName = b
	}
	if v, ok := keys["logging.timestamp"]; ok {
		switch v {
		case "off":
			c.Timestamp = TimestampOff
		case "on":
			c.Timestamp = TimestampOn
		case "hires":
			c.Timestamp = TimestampHires
		default:
			return &Error{Key: "logging.timestamp", Reason: "unknown value for timestamp"}
		}
	}
	if v, ok := keys["logging.blackbox"]; ok {
		b, ok := onOff(v)
		if !ok {
			return &Error{Key: "logging.blackbox", Reason: "unknown value for blackbox"}
		}
		c.Blackbox = b
	}
	return nil
}

// parseLevel reads the keys valid at top level and in logger_subsys, in
// corosync's order so the first error reported is corosync's.
func (c *Config) parseLevel(keys map[string]string, path string, s *Settings, top bool) error {
	get := func(k string) (string, bool) { v, ok := keys[path+"."+k]; return v, ok }
	fail := func(k, reason string) error { return &Error{Key: path + "." + k, Reason: reason} }

	toStderr, err := destination(get, fail, "to_stderr", top, true)
	if err != nil {
		return err
	}
	toSyslog, err := destination(get, fail, "to_syslog", top, true)
	if err != nil {
		return err
	}
	if top {
		c.ToStderr, c.ToSyslog = *toStderr, *toSyslog
	}

	c.Facility = FacilityDaemon
	if v, ok := get("syslog_facility"); ok {
		f, ok := facilityNames[v]
		if !ok {
			return fail("syslog_facility", "unknown syslog facility specified")
		}
		c.Facility = f
	}

	if v, ok := get("syslog_level"); ok {
		c.Warnings = append(c.Warnings, "Warning: the syslog_level config parameter has been obsoleted. See corosync.conf man page syslog_priority directive.")
		p, ok := parsePriority(v)
		if !ok {
			return fail("syslog_level", "unknown syslog level specified")
		}
		s.SyslogPriority = p
	}
	if v, ok := get("syslog_priority"); ok {
		p, ok := parsePriority(v)
		if !ok {
			return fail("syslog_priority", "unknown syslog priority specified")
		}
		s.SyslogPriority = p
	} else if top {
		// Unlike the other keys, syslog_level only sticks in a
		// logger_subsys block: the top level resets to info here.
		s.SyslogPriority = PriInfo
	}

	if v, ok := get("logfile"); ok {
		s.Logfile, s.LogfileSet = v, true
	}

	if _, ok := get("to_file"); ok {
		c.Warnings = append(c.Warnings, "Warning: the to_file config parameter has been obsoleted. See corosync.conf man page to_logfile directive.")
		b, err := destination(get, fail, "to_file", false, false)
		if err != nil {
			return err
		}
		s.ToLogfile = *b
	}
	// At top level an absent to_logfile resets to "no", which also undoes
	// a top-level to_file: yes; corosync behaves the same way.
	toLogfile, err := destination(get, fail, "to_logfile", top, false)
	if err != nil {
		return err
	}
	if toLogfile != nil {
		s.ToLogfile = *toLogfile
	}

	if v, ok := get("logfile_priority"); ok {
		p, ok := parsePriority(v)
		if !ok {
			return fail("logfile_priority", "unknown logfile priority specified")
		}
		s.LogfilePriority = p
	} else if top {
		s.LogfilePriority = PriInfo
	}

	// debug does not inherit: a logger_subsys block without it is off.
	s.Debug = DebugOff
	if v, ok := get("debug"); ok {
		switch v {
		case "off":
		case "on":
			s.Debug = DebugOn
		case "trace":
			s.Debug = DebugTrace
		default:
			return fail("debug", "unknown value for debug")
		}
	}
	return nil
}

// destination reads a yes/no/on/off switch. It returns nil when the key
// is absent and no default applies (logger_subsys blocks inherit).
func destination(get func(string) (string, bool), fail func(k, reason string) error, key string, useDefault, def bool) (*bool, error) {
	v, ok := get(key)
	if !ok {
		if useDefault {
			return &def, nil
		}
		return nil, nil
	}
	var b bool
	switch v {
	case "yes", "on":
		b = true
	case "no", "off":
	default:
		return nil, fail(key, "unknown value for "+key)
	}
	return &b, nil
}

// onOff reads the top-level on/off switches (no yes/no there).
func onOff(v string) (value, ok bool) {
	switch v {
	case "on":
		return true, true
	case "off":
		return false, true
	}
	return false, false
}
