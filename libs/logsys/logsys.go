package logsys

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

// Options are the process facts the sinks need. Zero values take the
// real process's.
type Options struct {
	Stderr   io.Writer        // default os.Stderr
	Syslog   Syslogger        // default &SyslogConn{Tag: Program}; Logsys closes it
	Now      func() time.Time // default time.Now
	Program  string           // logfile "%N" and syslog tag; default base of os.Args[0]
	PID      int              // default os.Getpid()
	Hostname string           // default os.Hostname(), "localhost" on error as libqb
	// Journal means stderr is connected to systemd's journal, which
	// stamps every line itself: stderr lines then carry no timestamp of
	// their own. By default it is detected as systemd documents it (the
	// JOURNAL_STREAM device and inode are those of the process's stderr).
	Journal *bool
}

func (o *Options) fill() {
	if o.Journal == nil {
		j := o.Stderr == nil && stderrIsJournal(os.Getenv("JOURNAL_STREAM"))
		o.Journal = &j
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Program == "" {
		o.Program = filepath.Base(os.Args[0])
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	if o.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			h = "localhost"
		}
		o.Hostname = h
	}
	if o.Syslog == nil {
		o.Syslog = &SyslogConn{Tag: o.Program}
	}
}

// stderrIsJournal reports whether fd 2 is the journal stream that
// JOURNAL_STREAM ("DEVICE:INODE") names.
func stderrIsJournal(env string) bool {
	devS, inoS, ok := strings.Cut(env, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devS, 10, 64)
	ino, err2 := strconv.ParseUint(inoS, 10, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(2, &st); err != nil {
		return false
	}
	return uint64(st.Dev) == dev && st.Ino == ino
}

// Logsys owns the sinks and hands out per-subsystem loggers. All methods
// are safe for concurrent use; loggers follow Apply immediately.
type Logsys struct {
	opts Options

	mu         sync.Mutex // guards everything below and serialises writes
	cfg        *Config
	files      map[string]*os.File
	levels     map[string]hclog.Level // SetLevel overrides per subsystem
	syslogDown bool                   // a syslog failure was reported
	closed     bool
}

// Open opens every configured log file (also those with to_logfile off,
// as corosync does) and returns the logging system. Syslog is connected
// on first use; when it is unavailable, syslog output is dropped and one
// warning goes to the other sinks per outage, because corosync too keeps
// running without a syslog daemon.
func Open(c *Config, opts Options) (*Logsys, error) {
	opts.fill()
	files, err := openFiles(c, nil)
	if err != nil {
		return nil, err
	}
	l := &Logsys{opts: opts, cfg: clone(c), files: files, levels: map[string]hclog.Level{}}
	l.warn(c.Warnings)
	return l, nil
}

// Apply switches to c at runtime. Log files are opened first; if one
// fails, nothing changes and the error is returned. Files no longer
// named are closed.
func (l *Logsys) Apply(c *Config) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("logsys: apply after close")
	}
	files, err := openFiles(c, l.files)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	for p, f := range l.files {
		if _, kept := files[p]; !kept {
			f.Close()
		}
	}
	l.files, l.cfg = files, clone(c)
	l.mu.Unlock()
	l.warn(c.Warnings)
	return nil
}

// Reopen opens every log file again at its configured path (corosync's
// cfgtool -L after a rotation renamed them): the new files replace the
// old ones, which are closed. If one cannot be opened, the old files stay
// in use and the error is returned.
func (l *Logsys) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("logsys: reopen after close")
	}
	files, err := openFiles(l.cfg, nil)
	if err != nil {
		return err
	}
	for _, f := range l.files {
		f.Close()
	}
	l.files = files
	return nil
}

// Close closes log files and syslog; later messages are dropped.
func (l *Logsys) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	for _, f := range l.files {
		errs = append(errs, f.Close())
	}
	l.files = nil
	errs = append(errs, l.opts.Syslog.Close())
	return errors.Join(errs...)
}

// Logger returns the logger of subsystem subsys (MAIN, TOTEM, CPG, …).
func (l *Logsys) Logger(subsys string) hclog.Logger {
	return &logger{sys: l, subsys: subsys}
}

func (l *Logsys) warn(ws []string) {
	main := &logger{sys: l, subsys: "MAIN"}
	for _, w := range ws {
		main.emit(1, PriWarning, w, nil)
	}
}

func clone(c *Config) *Config {
	cc := *c
	cc.Subsys = maps.Clone(c.Subsys)
	return &cc
}

// openFiles opens the log files c names, reusing those in have, in
// corosync's order (top level, then blocks) so the first failure is its.
func openFiles(c *Config, have map[string]*os.File) (map[string]*os.File, error) {
	files := map[string]*os.File{}
	open := func(key string, s Settings) error {
		if !s.LogfileSet || files[s.Logfile] != nil {
			return nil
		}
		if f, ok := have[s.Logfile]; ok {
			files[s.Logfile] = f
			return nil
		}
		f, err := os.OpenFile(s.Logfile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
		if err != nil {
			return openError(key, s.Logfile, err)
		}
		files[s.Logfile] = f
		return nil
	}
	err := open("logging.logfile", c.Default)
	// Sorting "NAME." orders blocks as their "NAME.subsys" keys sort.
	names := slices.Collect(maps.Keys(c.Subsys))
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(a+".", b+".") })
	for _, n := range names {
		if err == nil {
			err = open(subsysPrefix+n+".logfile", c.Subsys[n])
		}
	}
	if err != nil {
		for p, f := range files {
			if have[p] != f {
				f.Close()
			}
		}
		return nil, err
	}
	return files, nil
}

// openError words a failed open as corosync does:
// "Can't open logfile '/x' for reason: No such file or directory (2)".
// Go's errno texts are glibc's with a lower-case first letter.
func openError(key, path string, err error) error {
	reason, code := err.Error(), 0
	var errno syscall.Errno
	if errors.As(err, &errno) {
		reason, code = errno.Error(), int(errno)
		if r, n := utf8.DecodeRuneInString(reason); n > 0 {
			reason = string(unicode.ToUpper(r)) + reason[n:]
		}
	}
	return &Error{Key: key, Reason: fmt.Sprintf("Can't open logfile '%s' for reason: %s (%d)", path, reason, code)}
}

// write sends r to every sink whose switch and filter let it through,
// syslog only if viaSyslog. l.mu must be held.
func (l *Logsys) write(r *record, viaSyslog bool) {
	c := l.cfg
	s := c.For(r.subsys)
	if c.ToStderr && r.pri <= s.fileThreshold() {
		ts := c.Timestamp
		if *l.opts.Journal {
			ts = TimestampOff
		}
		io.WriteString(l.opts.Stderr, r.stderrLine(ts))
	}
	if s.ToLogfile && s.LogfileSet && r.pri <= s.fileThreshold() {
		if f := l.files[s.Logfile]; f != nil {
			f.WriteString(r.fileLine(c.Timestamp, l.opts.PID, l.opts.Hostname, l.opts.Program))
		}
	}
	if !viaSyslog || !c.ToSyslog || r.pri > s.syslogThreshold() {
		return
	}
	err := l.opts.Syslog.Syslog(c.Facility, r.pri, r.syslogMsg(c.Timestamp))
	switch {
	case err == nil:
		l.syslogDown = false
	case !l.syslogDown:
		l.syslogDown = true
		l.write(&record{when: r.when, pri: PriWarning, subsys: "MAIN",
			body: "syslog unavailable, dropping syslog output until it is back: " + err.Error()}, false)
	}
}

// maxPriority is the most verbose priority any enabled sink of subsys
// accepts, or -1 when none is enabled. l.mu must be held.
func (l *Logsys) maxPriority(subsys string) Priority {
	c := l.cfg
	s := c.For(subsys)
	p := Priority(-1)
	if c.ToStderr || (s.ToLogfile && s.LogfileSet) {
		p = max(p, s.fileThreshold())
	}
	if c.ToSyslog {
		p = max(p, s.syslogThreshold())
	}
	return p
}
