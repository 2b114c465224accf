package logsys

import (
	"io"
	"log"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// logger is the hclog.Logger of one subsystem; settings are looked up in
// the Logsys at every call, so Apply takes effect at once.
type logger struct {
	sys     *Logsys
	subsys  string
	name    string // hclog Named() prefix inside the message
	implied []any
}

var _ hclog.Logger = (*logger)(nil)

// priorityOf maps hclog levels onto syslog priorities.
func priorityOf(lv hclog.Level) Priority {
	switch lv {
	case hclog.Trace:
		return PriTrace
	case hclog.Debug:
		return PriDebug
	case hclog.Warn:
		return PriWarning
	case hclog.Error:
		return PriErr
	}
	return PriInfo
}

// levelOf is the hclog level whose messages a threshold p lets through.
func levelOf(p Priority) hclog.Level {
	switch {
	case p < 0:
		return hclog.Off
	case p >= PriTrace:
		return hclog.Trace
	case p == PriDebug:
		return hclog.Debug
	case p >= PriNotice:
		return hclog.Info
	case p == PriWarning:
		return hclog.Warn
	}
	return hclog.Error
}

// emit formats and writes one message; skip counts frames between the
// user's call and emit, for fileline/function_name.
func (l *logger) emit(skip int, pri Priority, msg string, args []any) {
	s := l.sys
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || pri > s.maxPriority(l.subsys) {
		return
	}
	if ov, ok := s.levels[l.subsys]; ok && (ov == hclog.Off || priorityOf(ov) < pri) {
		return
	}
	r := &record{
		when:   s.opts.Now(),
		pri:    pri,
		subsys: l.subsys,
		caller: callerInfo(skip+1, s.cfg.FileLine, s.cfg.FunctionName),
		body:   formatBody(l.name, msg, append(l.implied[:len(l.implied):len(l.implied)], args...)),
	}
	s.write(r, true)
}

// Log writes msg at level (NoLevel and Off as Info, like hclog's default).
func (l *logger) Log(level hclog.Level, msg string, args ...any) {
	l.emit(1, priorityOf(level), msg, args)
}

// Notice logs at corosync's notice priority, between Info and Warn; hclog
// has no such level. Use the package function Notice on an hclog.Logger.
func (l *logger) Notice(msg string, args ...any) { l.emit(1, PriNotice, msg, args) }

func (l *logger) Trace(msg string, args ...any) { l.emit(1, PriTrace, msg, args) }
func (l *logger) Debug(msg string, args ...any) { l.emit(1, PriDebug, msg, args) }
func (l *logger) Info(msg string, args ...any)  { l.emit(1, PriInfo, msg, args) }
func (l *logger) Warn(msg string, args ...any)  { l.emit(1, PriWarning, msg, args) }
func (l *logger) Error(msg string, args ...any) { l.emit(1, PriErr, msg, args) }

func (l *logger) IsTrace() bool { return l.GetLevel() <= hclog.Trace }
func (l *logger) IsDebug() bool { return l.GetLevel() <= hclog.Debug }
func (l *logger) IsInfo() bool  { return l.GetLevel() <= hclog.Info }
func (l *logger) IsWarn() bool  { return l.GetLevel() <= hclog.Warn }
func (l *logger) IsError() bool { return l.GetLevel() <= hclog.Error }

func (l *logger) ImpliedArgs() []any { return l.implied }

func (l *logger) With(args ...any) hclog.Logger {
	if len(args)%2 == 1 {
		args = append(args[:len(args)-1:len(args)-1], hclog.MissingKey, args[len(args)-1])
	}
	c := *l
	c.implied = append(l.implied[:len(l.implied):len(l.implied)], args...)
	return &c
}

// Name is the subsystem, plus any Named() suffix.
func (l *logger) Name() string {
	if l.name == "" {
		return l.subsys
	}
	return l.subsys + "." + l.name
}

// Named keeps the subsystem (and its settings) and prefixes messages with
// the name, as hclog does.
func (l *logger) Named(name string) hclog.Logger {
	c := *l
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

// ResetNamed returns the logger of subsystem name.
func (l *logger) ResetNamed(name string) hclog.Logger {
	return &logger{sys: l.sys, subsys: name, implied: l.implied}
}

// SetLevel adds a filter for the whole subsystem on top of the
// configuration (until changed again; hclog.NoLevel removes it).
func (l *logger) SetLevel(level hclog.Level) {
	l.sys.mu.Lock()
	defer l.sys.mu.Unlock()
	if level == hclog.NoLevel {
		delete(l.sys.levels, l.subsys)
		return
	}
	l.sys.levels[l.subsys] = level
}

// GetLevel is the most verbose level some sink of the subsystem accepts.
func (l *logger) GetLevel() hclog.Level {
	l.sys.mu.Lock()
	defer l.sys.mu.Unlock()
	lv := levelOf(l.sys.maxPriority(l.subsys))
	if ov, ok := l.sys.levels[l.subsys]; ok && ov > lv {
		lv = ov
	}
	return lv
}

func (l *logger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

func (l *logger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return &stdWriter{l: l, force: opts.ForceLevel, infer: opts.InferLevels}
}

// stdWriter logs each Write as one message, honouring ForceLevel and the
// "[LEVEL] " prefixes InferLevels asks for.
type stdWriter struct {
	l     *logger
	force hclog.Level
	infer bool
}

var levelPrefixes = []struct {
	prefix string
	level  hclog.Level
}{
	{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
	{"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}, {"[ERR]", hclog.Error},
}

func (w *stdWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\n")
	level := hclog.Info
	if w.infer || w.force != hclog.NoLevel {
		for _, lp := range levelPrefixes {
			if rest, ok := strings.CutPrefix(msg, lp.prefix); ok {
				msg, level = strings.TrimLeft(rest, " "), lp.level
				break
			}
		}
	}
	if w.force != hclog.NoLevel {
		level = w.force
	}
	w.l.emit(1, priorityOf(level), msg, nil)
	return len(p), nil
}

// Notice logs msg at notice priority when l comes from Logsys, else at Info.
func Notice(l hclog.Logger, msg string, args ...any) {
	if n, ok := l.(*logger); ok {
		n.emit(1, PriNotice, msg, args)
		return
	}
	l.Info(msg, args...)
}
