package logsys

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

var testTime = time.Date(2026, 11, 4, 16, 53, 38, 81_000_000, time.UTC)

// syslogRecord keeps what reached the Syslogger.
type syslogRecord struct {
	fail error // returned by Syslog when set
	got  []string
}

func (s *syslogRecord) Syslog(f Facility, sev Priority, msg string) error {
	if s.fail != nil {
		return s.fail
	}
	s.got = append(s.got, fmt.Sprintf("%s.%s %q", f, sev, msg))
	return nil
}

func (s *syslogRecord) Close() error { return nil }

type rig struct {
	sys    *Logsys
	stderr *bytes.Buffer
	syslog *syslogRecord
}

func open(t *testing.T, keys map[string]string) *rig {
	t.Helper()
	c, err := Parse(keys)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	r := &rig{stderr: &bytes.Buffer{}, syslog: &syslogRecord{}}
	r.sys, err = Open(c, Options{Stderr: r.stderr, Syslog: r.syslog, Now: func() time.Time { return testTime },
		Program: "corosync", PID: 42, Hostname: "vm"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.sys.Close() })
	return r
}

func (r *rig) apply(t *testing.T, keys map[string]string) {
	t.Helper()
	c, err := Parse(keys)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if err := r.sys.Apply(c); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The expected lines follow what corosync 3.1.7 printed for the same
// settings ("Corosync Cluster Engine exiting normally" at notice).
func TestLineFormats(t *testing.T) {
	tests := []struct {
		timestamp         string
		stderr, file, sys string
	}{
		{"hires",
			"Nov 04 16:53:38.081 notice  [MAIN  ] Corosync Cluster Engine exiting normally\n",
			"Nov 04 16:53:38.081 [42] vm corosync notice  [MAIN  ] Corosync Cluster Engine exiting normally\n",
			`daemon.notice "  [MAIN  ] Corosync Cluster Engine exiting normally"`},
		{"on",
			"Nov 04 16:53:38 notice  [MAIN  ] Corosync Cluster Engine exiting normally\n",
			"Nov 04 16:53:38 [42] vm corosync notice  [MAIN  ] Corosync Cluster Engine exiting normally\n",
			`daemon.notice "  [MAIN  ] Corosync Cluster Engine exiting normally"`},
		{"off",
			"notice  [MAIN  ] Corosync Cluster Engine exiting normally\n",
			"[42] vm corosyncnotice  [MAIN  ] Corosync Cluster Engine exiting normally\n",
			`daemon.notice " [MAIN  ] Corosync Cluster Engine exiting normally"`},
	}
	for _, tt := range tests {
		t.Run(tt.timestamp, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.log")
			r := open(t, map[string]string{"logging.timestamp": tt.timestamp, "logging.to_logfile": "yes", "logging.logfile": p})
			Notice(r.sys.Logger("MAIN"), "Corosync Cluster Engine exiting normally")
			if got := r.stderr.String(); got != tt.stderr {
				t.Errorf("stderr %q, want %q", got, tt.stderr)
			}
			if got := readFile(t, p); got != tt.file {
				t.Errorf("file %q, want %q", got, tt.file)
			}
			if len(r.syslog.got) != 1 || r.syslog.got[0] != tt.sys {
				t.Errorf("syslog %q, want %q", r.syslog.got, tt.sys)
			}
		})
	}
}

func TestLevelsAndArgs(t *testing.T) {
	r := open(t, map[string]string{"logging.timestamp": "off", "logging.debug": "trace", "logging.to_syslog": "no"})
	l := r.sys.Logger("VOTEQUORUM") // cut to 6 like %6g
	l.Trace("t")
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e", "err", errors.New("bad thing"), "n", 3)
	l.Log(hclog.Info, "log")
	l.Named("srp").With("ring", hclog.Hex(255)).Info("x", "s", "", "q", hclog.Quote("a"), "f", hclog.Format{"%03d", 7}, "odd")
	want := "trace   [VOTEQU] t\n" +
		"debug   [VOTEQU] d\n" +
		"info    [VOTEQU] i\n" +
		"warning [VOTEQU] w\n" +
		"error   [VOTEQU] e err=\"bad thing\" n=3\n" +
		"info    [VOTEQU] log\n" +
		"info    [VOTEQU] srp: x ring=0xff s=\"\" q=\"a\" f=007 EXTRA_VALUE_AT_END=odd\n"
	if got := r.stderr.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if n := l.Named("a").Named("b").Name(); n != "VOTEQUORUM.a.b" {
		t.Errorf("Name() = %q", n)
	}
}

func TestCallerInfo(t *testing.T) {
	tests := []struct {
		keys map[string]string
		re   string
	}{
		{map[string]string{"logging.fileline": "on"}, `^info    \[MAIN  \] logsys_test\.go:\d+ hello\n$`},
		{map[string]string{"logging.function_name": "on"}, `^info    \[MAIN  \] logsys\.TestCallerInfo\.func1 hello\n$`},
		{map[string]string{"logging.fileline": "on", "logging.function_name": "on"}, `^info    \[MAIN  \] logsys_test\.go:logsys\.TestCallerInfo\.func1:\d+ hello\n$`},
	}
	for _, tt := range tests {
		tt.keys["logging.timestamp"] = "off"
		r := open(t, tt.keys)
		func() { r.sys.Logger("MAIN").Info("hello") }()
		if got := r.stderr.String(); !regexp.MustCompile(tt.re).MatchString(got) {
			t.Errorf("%v: got %q, want match of %s", tt.keys, got, tt.re)
		}
	}
}

// Filters as corosync applies them: stderr and file by logfile_priority,
// syslog by syslog_priority, debug on/trace overriding both per subsystem;
// to_stderr/to_syslog only at top level.
func TestFiltering(t *testing.T) {
	dir := t.TempDir()
	main, quorum := filepath.Join(dir, "main.log"), filepath.Join(dir, "quorum.log")
	sub := "logging.logger_subsys."
	r := open(t, map[string]string{
		"logging.timestamp": "off", "logging.to_logfile": "yes", "logging.logfile": main,
		"logging.logfile_priority": "warning", "logging.syslog_priority": "err", "logging.debug": "on",
		sub + "QUORUM.subsys": "QUORUM", sub + "QUORUM.debug": "trace", sub + "QUORUM.logfile": quorum,
		sub + "QUORUM.to_stderr": "no", sub + "QUORUM.to_syslog": "no",
		sub + "CPG.subsys": "CPG", sub + "CPG.to_logfile": "no",
	})
	for _, s := range []string{"TOTEM", "QUORUM", "CPG"} {
		l := r.sys.Logger(s)
		l.Trace("t " + s)
		l.Debug("d " + s)
		l.Info("i " + s)
		l.Warn("w " + s)
		l.Error("e " + s)
	}
	// TOTEM: debug on from the top level; CPG: its block resets debug.
	wantStderr := "debug   [TOTEM ] d TOTEM\ninfo    [TOTEM ] i TOTEM\nwarning [TOTEM ] w TOTEM\nerror   [TOTEM ] e TOTEM\n" +
		"trace   [QUORUM] t QUORUM\ndebug   [QUORUM] d QUORUM\ninfo    [QUORUM] i QUORUM\nwarning [QUORUM] w QUORUM\nerror   [QUORUM] e QUORUM\n" +
		"warning [CPG   ] w CPG\nerror   [CPG   ] e CPG\n"
	if got := r.stderr.String(); got != wantStderr {
		t.Errorf("stderr\n%s\nwant\n%s", got, wantStderr)
	}
	prefix := func(s string) string {
		return regexp.MustCompile(`(?m)^`).ReplaceAllString(strings.TrimSuffix(s, "\n"), "[42] vm corosync") + "\n"
	}
	if got, want := readFile(t, main), prefix("debug   [TOTEM ] d TOTEM\ninfo    [TOTEM ] i TOTEM\nwarning [TOTEM ] w TOTEM\nerror   [TOTEM ] e TOTEM\n"); got != want {
		t.Errorf("main.log\n%s\nwant\n%s", got, want)
	}
	if got, want := readFile(t, quorum), prefix("trace   [QUORUM] t QUORUM\ndebug   [QUORUM] d QUORUM\ninfo    [QUORUM] i QUORUM\nwarning [QUORUM] w QUORUM\nerror   [QUORUM] e QUORUM\n"); got != want {
		t.Errorf("quorum.log\n%s\nwant\n%s", got, want)
	}
	wantSys := []string{
		`daemon.debug " [TOTEM ] d TOTEM"`, `daemon.info " [TOTEM ] i TOTEM"`, `daemon.warning " [TOTEM ] w TOTEM"`, `daemon.error " [TOTEM ] e TOTEM"`,
		`daemon.trace " [QUORUM] t QUORUM"`, `daemon.debug " [QUORUM] d QUORUM"`, `daemon.info " [QUORUM] i QUORUM"`, `daemon.warning " [QUORUM] w QUORUM"`, `daemon.error " [QUORUM] e QUORUM"`,
		`daemon.error " [CPG   ] e CPG"`,
	}
	if got := r.syslog.got; strings.Join(got, "\n") != strings.Join(wantSys, "\n") {
		t.Errorf("syslog\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantSys, "\n"))
	}
	for s, want := range map[string]hclog.Level{"TOTEM": hclog.Debug, "QUORUM": hclog.Trace, "CPG": hclog.Warn} {
		if got := r.sys.Logger(s).GetLevel(); got != want {
			t.Errorf("%s GetLevel = %v, want %v", s, got, want)
		}
	}
}

func TestSwitchesOff(t *testing.T) {
	r := open(t, map[string]string{"logging.to_stderr": "no", "logging.to_syslog": "no", "logging.syslog_facility": "local7",
		"logging.logger_subsys.MAIN.subsys": "MAIN", "logging.logger_subsys.MAIN.to_stderr": "yes"})
	l := r.sys.Logger("MAIN")
	l.Error("nowhere")
	if r.stderr.Len() != 0 || len(r.syslog.got) != 0 {
		t.Errorf("stderr %q syslog %q, want nothing", r.stderr, r.syslog.got)
	}
	if l.GetLevel() != hclog.Off || l.IsError() {
		t.Errorf("GetLevel = %v with every sink off", l.GetLevel())
	}
}

func TestSetLevelOverride(t *testing.T) {
	r := open(t, map[string]string{"logging.timestamp": "off", "logging.to_syslog": "no", "logging.debug": "on"})
	l := r.sys.Logger("CMAP")
	l.SetLevel(hclog.Warn)
	if l.IsInfo() || !l.IsWarn() {
		t.Errorf("GetLevel = %v after SetLevel(Warn)", l.GetLevel())
	}
	l.Info("dropped")
	l.Warn("kept")
	Notice(l, "dropped")
	l.SetLevel(hclog.NoLevel)
	l.Debug("back")
	if got, want := r.stderr.String(), "warning [CMAP  ] kept\ndebug   [CMAP  ] back\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLogfileOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		keys      map[string]string
		key, want string
	}{
		{map[string]string{"logging.logfile": dir + "/none/x.log"}, "logging.logfile",
			"Can't open logfile '" + dir + "/none/x.log' for reason: No such file or directory (2)"},
		{map[string]string{"logging.logfile": dir}, "logging.logfile", "Can't open logfile '" + dir + "' for reason: Is a directory (21)"},
		{map[string]string{"logging.logfile": ""}, "logging.logfile", "Can't open logfile '' for reason: No such file or directory (2)"},
		{map[string]string{"logging.logfile": dir + "/ok.log",
			"logging.logger_subsys.MAIN.subsys": "MAIN", "logging.logger_subsys.MAIN.logfile": "/nonexist/m",
			"logging.logger_subsys.CPG.subsys": "CPG", "logging.logger_subsys.CPG.logfile": "/nonexist/c"},
			"logging.logger_subsys.CPG.logfile", "Can't open logfile '/nonexist/c' for reason: No such file or directory (2)"},
	}
	for _, tt := range tests {
		c, err := Parse(tt.keys)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(c, Options{Stderr: &bytes.Buffer{}, Syslog: &syslogRecord{}})
		var e *Error
		if !errors.As(err, &e) || e.Error() != tt.want || e.Key != tt.key {
			t.Errorf("Open(%v) error %#v, want %q for %s", tt.keys, err, tt.want, tt.key)
		}
	}
}

// corosync creates the log file even when to_logfile is off.
func TestLogfileCreatedWhenUnused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.log")
	r := open(t, map[string]string{"logging.logfile": p})
	r.sys.Logger("MAIN").Error("not in file")
	if got := readFile(t, p); got != "" {
		t.Errorf("file has %q", got)
	}
}

func TestApply(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	r := open(t, map[string]string{"logging.timestamp": "off", "logging.to_syslog": "no", "logging.to_logfile": "yes", "logging.logfile": a})
	l := r.sys.Logger("TOTEM").Named("srp")
	l.Debug("hidden")
	l.Info("one")
	r.apply(t, map[string]string{"logging.timestamp": "off", "logging.to_syslog": "no", "logging.to_logfile": "yes", "logging.logfile": b,
		"logging.to_file": "no", "logging.logger_subsys.TOTEM.subsys": "TOTEM", "logging.logger_subsys.TOTEM.debug": "on"})
	l.Debug("two")

	c, err := Parse(map[string]string{"logging.logfile": dir + "/none/x.log", "logging.debug": "off"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.sys.Apply(c); err == nil || !strings.HasPrefix(err.Error(), "Can't open logfile") {
		t.Fatalf("Apply with a bad logfile: %v", err)
	}
	l.Debug("three") // old config still active

	wantStderr := "info    [TOTEM ] srp: one\nwarning [MAIN  ] " + warnToFile + "\ndebug   [TOTEM ] srp: two\ndebug   [TOTEM ] srp: three\n"
	if got := r.stderr.String(); got != wantStderr {
		t.Errorf("stderr\n%s\nwant\n%s", got, wantStderr)
	}
	if got, want := readFile(t, a), "[42] vm corosyncinfo    [TOTEM ] srp: one\n"; got != want {
		t.Errorf("a.log %q, want %q", got, want)
	}
	wantB := "[42] vm corosyncwarning [MAIN  ] " + warnToFile + "\n[42] vm corosyncdebug   [TOTEM ] srp: two\n[42] vm corosyncdebug   [TOTEM ] srp: three\n"
	if got := readFile(t, b); got != wantB {
		t.Errorf("b.log %q, want %q", got, wantB)
	}
	if r.sys.files[a] != nil {
		t.Error("a.log still open after Apply")
	}
}

func TestSyslogUnavailable(t *testing.T) {
	r := open(t, map[string]string{"logging.timestamp": "off"})
	r.syslog.fail = errors.New("dial unixgram /dev/log: no such file")
	l := r.sys.Logger("MAIN")
	l.Info("a")
	l.Info("b")
	r.syslog.fail = nil
	l.Info("c")
	r.syslog.fail = errors.New("down again")
	l.Info("d")
	want := "info    [MAIN  ] a\nwarning [MAIN  ] syslog unavailable, dropping syslog output until it is back: dial unixgram /dev/log: no such file\n" +
		"info    [MAIN  ] b\ninfo    [MAIN  ] c\ninfo    [MAIN  ] d\nwarning [MAIN  ] syslog unavailable, dropping syslog output until it is back: down again\n"
	if got := r.stderr.String(); got != want {
		t.Errorf("stderr\n%s\nwant\n%s", got, want)
	}
	if got := r.syslog.got; len(got) != 1 || got[0] != `daemon.info " [MAIN  ] c"` {
		t.Errorf("syslog got %q", got)
	}
}

func TestClose(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.log")
	r := open(t, map[string]string{"logging.to_logfile": "yes", "logging.logfile": p})
	if err := r.sys.Close(); err != nil {
		t.Fatal(err)
	}
	r.sys.Logger("MAIN").Error("late")
	if r.stderr.Len() != 0 || readFile(t, p) != "" || len(r.syslog.got) != 0 {
		t.Error("message written after Close")
	}
	if err := r.sys.Apply(&Config{}); err == nil {
		t.Error("Apply after Close succeeded")
	}
}

func TestStandardLogger(t *testing.T) {
	r := open(t, map[string]string{"logging.timestamp": "off", "logging.to_syslog": "no", "logging.logfile_priority": "debug"})
	l := r.sys.Logger("MAIN")
	l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[DEBUG] inferred")
	l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Print("[DEBUG] forced")
	l.StandardLogger(nil).Print("[WARN] plain")
	want := "debug   [MAIN  ] inferred\nerror   [MAIN  ] forced\ninfo    [MAIN  ] [WARN] plain\n"
	if got := r.stderr.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// Loggers may be used from many goroutines while the config changes.
func TestConcurrentApply(t *testing.T) {
	r := open(t, map[string]string{"logging.timestamp": "off", "logging.to_syslog": "no"})
	const writers, lines = 4, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := r.sys.Logger(fmt.Sprintf("W%d", w))
			for i := range lines {
				l.Warn("line", "i", i)
			}
		}()
	}
	for i := range 50 {
		r.apply(t, map[string]string{"logging.timestamp": "off", "logging.to_syslog": "no", "logging.debug": []string{"on", "off"}[i%2]})
	}
	wg.Wait()
	if n := strings.Count(r.stderr.String(), "\n"); n != writers*lines {
		t.Errorf("%d lines, want %d", n, writers*lines)
	}
}

// TestJournalLinesHaveNoTimestamp: on the journal (which stamps lines
// itself) stderr lines carry no timestamp; elsewhere they keep it.
func TestJournalLinesHaveNoTimestamp(t *testing.T) {
	for _, journal := range []bool{false, true} {
		var b strings.Builder
		lc, err := Parse(map[string]string{"logging.to_stderr": "yes", "logging.to_syslog": "no", "logging.timestamp": "hires"})
		if err != nil {
			t.Fatal(err)
		}
		j := journal
		ls, err := Open(lc, Options{Stderr: &b, Program: "t", Journal: &j,
			Now: func() time.Time { return time.Date(2026, 11, 24, 16, 53, 38, 81e6, time.UTC) }})
		if err != nil {
			t.Fatal(err)
		}
		ls.Logger("MAIN").Info("hello")
		ls.Close()
		stamped := strings.HasPrefix(b.String(), "Nov 24 16:53:38.081")
		if stamped == journal {
			t.Errorf("journal=%v: line %q", journal, b.String())
		}
	}
	if stderrIsJournal("") || stderrIsJournal("1:2") || stderrIsJournal("x:y") {
		t.Error("a missing, foreign or malformed JOURNAL_STREAM taken for stderr")
	}
}

// TestReopenAfterRotation: after the log file is renamed away, Reopen
// makes later lines go to a new file at the configured path.
func TestReopenAfterRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	lc, err := Parse(map[string]string{"logging.to_stderr": "no", "logging.to_syslog": "no", "logging.to_logfile": "yes", "logging.logfile": path})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := Open(lc, Options{Stderr: &bytes.Buffer{}, Program: "t", Syslog: &syslogRecord{}})
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	ls.Logger("MAIN").Info("before")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	ls.Logger("MAIN").Info("still old")
	if err := ls.Reopen(); err != nil {
		t.Fatal(err)
	}
	ls.Logger("MAIN").Info("after")
	newer, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if !strings.Contains(string(newer), "after") || strings.Contains(string(newer), "before") || !strings.Contains(string(old), "still old") {
		t.Fatalf("new file %q, rotated %q", newer, old)
	}
}
