package logsys

import (
	"reflect"
	"strings"
	"testing"
)

// defaults is what corosync 3.1.7 uses with an empty logging section.
func defaults() Config {
	return Config{
		Timestamp: TimestampHires,
		Blackbox:  true,
		ToStderr:  true,
		ToSyslog:  true,
		Facility:  FacilityDaemon,
		Default:   Settings{LogfilePriority: PriInfo, SyslogPriority: PriInfo},
		Subsys:    map[string]Settings{},
	}
}

const (
	warnToFile      = "Warning: the to_file config parameter has been obsoleted. See corosync.conf man page to_logfile directive."
	warnSyslogLevel = "Warning: the syslog_level config parameter has been obsoleted. See corosync.conf man page syslog_priority directive."
)

func TestParseValid(t *testing.T) {
	sub := "logging.logger_subsys."
	tests := []struct {
		name string
		keys map[string]string
		want func(c *Config)
	}{
		{"empty", nil, func(c *Config) {}},
		{"other sections ignored", map[string]string{"totem.version": "2", "logging.logging_daemon.x.to_stderr": "bad", "logging.unknown": "x"}, func(c *Config) {}},
		{"top level", map[string]string{
			"logging.to_stderr": "no", "logging.to_syslog": "off", "logging.to_logfile": "yes",
			"logging.logfile": "/var/log/c.log", "logging.timestamp": "on", "logging.fileline": "on",
			"logging.function_name": "on", "logging.blackbox": "off", "logging.debug": "trace",
			"logging.logfile_priority": "notice", "logging.syslog_priority": "warning",
			"logging.syslog_facility": "local4",
		}, func(c *Config) {
			c.ToStderr, c.ToSyslog, c.Timestamp, c.FileLine, c.FunctionName, c.Blackbox = false, false, TimestampOn, true, true, false
			c.Facility = 20 << 3
			c.Default = Settings{ToLogfile: true, Logfile: "/var/log/c.log", LogfileSet: true,
				LogfilePriority: PriNotice, SyslogPriority: PriWarning, Debug: DebugTrace}
		}},
		{"timestamp off, debug on", map[string]string{"logging.timestamp": "off", "logging.debug": "on"}, func(c *Config) {
			c.Timestamp, c.Default.Debug = TimestampOff, DebugOn
		}},
		// logsys matches priority names case-insensitively and knows "error".
		{"priority names", map[string]string{"logging.logfile_priority": "ERROR", "logging.syslog_priority": "Err"}, func(c *Config) {
			c.Default.LogfilePriority, c.Default.SyslogPriority = PriErr, PriErr
		}},
		{"facility authpriv", map[string]string{"logging.syslog_facility": "authpriv"}, func(c *Config) { c.Facility = 10 << 3 }},
		{"empty logfile is still a logfile", map[string]string{"logging.logfile": ""}, func(c *Config) { c.Default.LogfileSet = true }},
		// At top level the absent to_logfile resets to no after to_file.
		{"to_file top level", map[string]string{"logging.to_file": "yes"}, func(c *Config) {
			c.Warnings = []string{warnToFile}
		}},
		{"to_file top level with to_logfile", map[string]string{"logging.to_file": "no", "logging.to_logfile": "yes"}, func(c *Config) {
			c.Default.ToLogfile = true
			c.Warnings = []string{warnToFile}
		}},
		// At top level syslog_level is undone by the absent syslog_priority.
		{"syslog_level top level", map[string]string{"logging.syslog_level": "err"}, func(c *Config) {
			c.Warnings = []string{warnSyslogLevel}
		}},
		{"subsys inherits except debug", map[string]string{
			"logging.debug": "on", "logging.logfile_priority": "crit", "logging.syslog_priority": "alert",
			"logging.to_logfile": "yes", "logging.logfile": "/l",
			sub + "TOTEM.subsys": "TOTEM",
		}, func(c *Config) {
			c.Default = Settings{ToLogfile: true, Logfile: "/l", LogfileSet: true, LogfilePriority: PriCrit, SyslogPriority: PriAlert, Debug: DebugOn}
			s := c.Default
			s.Debug = DebugOff
			c.Subsys["TOTEM"] = s
		}},
		{"subsys overrides", map[string]string{
			sub + "QUORUM.subsys": "QUORUM", sub + "QUORUM.debug": "trace", sub + "QUORUM.to_logfile": "on",
			sub + "QUORUM.logfile": "/q", sub + "QUORUM.logfile_priority": "debug", sub + "QUORUM.syslog_level": "emerg",
			sub + "QUORUM.to_stderr": "no", sub + "QUORUM.to_syslog": "no",
			sub + "CPG.subsys": "CPG", sub + "CPG.to_file": "yes",
		}, func(c *Config) {
			c.Subsys["QUORUM"] = Settings{ToLogfile: true, Logfile: "/q", LogfileSet: true, LogfilePriority: PriDebug, SyslogPriority: PriEmerg, Debug: DebugTrace}
			c.Subsys["CPG"] = Settings{ToLogfile: true, LogfilePriority: PriInfo, SyslogPriority: PriInfo}
			c.Warnings = []string{warnToFile, warnSyslogLevel} // CPG before QUORUM
		}},
		// The facility is global; each block re-sets it, the last one wins.
		{"facility last block wins", map[string]string{
			"logging.syslog_facility": "local3", sub + "AA.subsys": "AA",
			sub + "AB.subsys": "AB", sub + "AB.syslog_facility": "local5",
		}, func(c *Config) {
			c.Facility = 21 << 3
			c.Subsys["AA"], c.Subsys["AB"] = c.Default, c.Default
		}},
		{"facility reset by block", map[string]string{"logging.syslog_facility": "local3", sub + "MAIN.subsys": "MAIN"}, func(c *Config) {
			c.Subsys["MAIN"] = c.Default
		}},
		{"dotted and incomplete subsys ignored", map[string]string{
			sub + "a.b.subsys": "a.b", sub + "a.b.to_stderr": "bad", sub + "X.debug": "bad",
		}, func(c *Config) {}},
		{"subsys name of 63 chars", map[string]string{sub + strings.Repeat("A", 63) + ".subsys": "x"}, func(c *Config) {
			c.Subsys[strings.Repeat("A", 63)] = c.Default
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.keys)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := defaults()
			tt.want(&want)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
		})
	}
}

// TestParseErrors: each stderr line was printed by Debian's corosync 3.1.7
// (`corosync -t -c FILE`, exit 7) for the same logging section.
func TestParseErrors(t *testing.T) {
	sub := "logging.logger_subsys."
	tests := []struct {
		keys    map[string]string
		key     string
		corosys string
	}{
		{map[string]string{"logging.to_stderr": "maybe"}, "logging.to_stderr", "parse error in config: unknown value for to_stderr."},
		{map[string]string{"logging.to_stderr": "YES"}, "logging.to_stderr", "parse error in config: unknown value for to_stderr."},
		{map[string]string{"logging.to_stderr": ""}, "logging.to_stderr", "parse error in config: unknown value for to_stderr."},
		{map[string]string{"logging.to_syslog": "x"}, "logging.to_syslog", "parse error in config: unknown value for to_syslog."},
		{map[string]string{"logging.to_logfile": "x"}, "logging.to_logfile", "parse error in config: unknown value for to_logfile."},
		{map[string]string{"logging.to_file": "x"}, "logging.to_file", "parse error in config: unknown value for to_file."},
		{map[string]string{"logging.timestamp": "sometimes"}, "logging.timestamp", "parse error in config: unknown value for timestamp."},
		{map[string]string{"logging.timestamp": "ON"}, "logging.timestamp", "parse error in config: unknown value for timestamp."},
		{map[string]string{"logging.fileline": "maybe"}, "logging.fileline", "parse error in config: unknown value for fileline."},
		{map[string]string{"logging.function_name": "x"}, "logging.function_name", "parse error in config: unknown value for function_name."},
		{map[string]string{"logging.blackbox": "x"}, "logging.blackbox", "parse error in config: unknown value for blackbox."},
		{map[string]string{"logging.debug": "loud"}, "logging.debug", "parse error in config: unknown value for debug."},
		{map[string]string{"logging.debug": "ON"}, "logging.debug", "parse error in config: unknown value for debug."},
		{map[string]string{"logging.logfile_priority": "loud"}, "logging.logfile_priority", "parse error in config: unknown logfile priority specified."},
		{map[string]string{"logging.logfile_priority": "trace"}, "logging.logfile_priority", "parse error in config: unknown logfile priority specified."},
		{map[string]string{"logging.syslog_priority": "x"}, "logging.syslog_priority", "parse error in config: unknown syslog priority specified."},
		{map[string]string{"logging.syslog_level": "x"}, "logging.syslog_level", "parse error in config: unknown syslog level specified."},
		{map[string]string{"logging.syslog_facility": "kernelx"}, "logging.syslog_facility", "parse error in config: unknown syslog facility specified."},
		{map[string]string{"logging.syslog_facility": "LOCAL0"}, "logging.syslog_facility", "parse error in config: unknown syslog facility specified."},
		{map[string]string{sub + "MAIN.subsys": "MAIN", sub + "MAIN.to_stderr": "bad"}, sub + "MAIN.to_stderr", "parse error in config: unknown value for to_stderr."},
		{map[string]string{sub + strings.Repeat("A", 64) + ".subsys": "x"}, sub + strings.Repeat("A", 64) + ".subsys", "parse error in config: unable to create new logging subsystem."},
		// Order: top level before blocks, blocks sorted, keys in logsys order.
		{map[string]string{"logging.to_logfile": "bad", sub + "MAIN.subsys": "MAIN", sub + "MAIN.to_stderr": "bad"}, "logging.to_logfile", "parse error in config: unknown value for to_logfile."},
		{map[string]string{sub + "ZZ.subsys": "ZZ", sub + "ZZ.debug": "bad", sub + "AA.subsys": "AA", sub + "AA.to_stderr": "bad"}, sub + "AA.to_stderr", "parse error in config: unknown value for to_stderr."},
		{map[string]string{"logging.to_stderr": "bad", "logging.fileline": "bad"}, "logging.fileline", "parse error in config: unknown value for fileline."},
	}
	for _, tt := range tests {
		t.Run(tt.corosys, func(t *testing.T) {
			c, err := Parse(tt.keys)
			if err == nil {
				t.Fatalf("Parse(%v) = %+v, want error", tt.keys, c)
			}
			if got := "parse error in config: " + err.Error() + "."; got != tt.corosys {
				t.Errorf("got %q, corosync says %q", got, tt.corosys)
			}
			if e, ok := err.(*Error); !ok || e.Key != tt.key {
				t.Errorf("error %#v, want *Error with Key %q", err, tt.key)
			}
		})
	}
}

// FuzzParse: logging keys also arrive from cmap clients at runtime.
func FuzzParse(f *testing.F) {
	f.Add("logging.to_stderr", "yes", "logging.logger_subsys.A.subsys", "A")
	f.Add("logging.logger_subsys.A.B.subsys", "x", "logging.debug", "trace")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		c, err := Parse(map[string]string{k1: v1, k2: v2})
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", c, err)
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error text")
		}
	})
}
