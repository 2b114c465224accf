package logsys

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// record is one message with everything the line formats need.
type record struct {
	when   time.Time
	pri    Priority
	subsys string
	caller string // "file:line ", "func ", "file:func:line " or ""
	body   string // message with name prefix and key=value args
}

// fixed pads or cuts s to n characters, like libqb's %<n>x fields.
func fixed(s string, n int) string {
	if len(s) >= n {
		return s[:n]
	}
	return s + strings.Repeat(" ", n-len(s))
}

func stamp(t time.Time, ts Timestamp) string {
	switch ts {
	case TimestampOn:
		return t.Format("Jan 02 15:04:05")
	case TimestampHires:
		return t.Format("Jan 02 15:04:05.000")
	}
	return ""
}

// tail is the part every line ends with: "notice  [MAIN  ] file:1 msg".
func (r *record) tail() string {
	return fixed(r.pri.String(), 7) + " [" + fixed(r.subsys, 6) + "] " + r.caller + r.body
}

// stderrLine is corosync's "%T %7p [%6g] %b" (the timestamp part per setting).
func (r *record) stderrLine(ts Timestamp) string {
	if ts == TimestampOff {
		return r.tail() + "\n"
	}
	return stamp(r.when, ts) + " " + r.tail() + "\n"
}

// fileLine is logsys's file format "%T [%P] %H %N %7p [%6g] %b". Without
// a timestamp logsys drops the space after the program name too
// ("corosyncnotice"); that is kept so lines match corosync's.
func (r *record) fileLine(ts Timestamp, pid int, host, prog string) string {
	head := "[" + strconv.Itoa(pid) + "] " + host + " " + prog
	if ts == TimestampOff {
		return head + r.tail() + "\n"
	}
	return stamp(r.when, ts) + " " + head + " " + r.tail() + "\n"
}

// syslogMsg is the stderr format with %T and %p removed, leaving their
// separating spaces, as logsys builds it: "  [MAIN  ] msg".
func (r *record) syslogMsg(ts Timestamp) string {
	lead := "  "
	if ts == TimestampOff {
		lead = " "
	}
	return lead + "[" + fixed(r.subsys, 6) + "] " + r.caller + r.body
}

// callerInfo formats the call site at skip frames above its caller the way
// logsys inserts %f:%l and %n.
func callerInfo(skip int, fileline, function bool) string {
	if !fileline && !function {
		return ""
	}
	pc, file, line, ok := runtime.Caller(skip + 1)
	if !ok {
		return ""
	}
	fn := "?"
	if f := runtime.FuncForPC(pc); f != nil {
		fn = f.Name()
		if i := strings.LastIndexByte(fn, '/'); i >= 0 {
			fn = fn[i+1:]
		}
	}
	file = filepath.Base(file)
	switch {
	case fileline && function:
		return fmt.Sprintf("%s:%s:%d ", file, fn, line)
	case fileline:
		return fmt.Sprintf("%s:%d ", file, line)
	}
	return fn + " "
}

// formatBody appends hclog-style key=value pairs to msg, prefixed by the
// logger's hclog name.
func formatBody(name, msg string, args []any) string {
	var b strings.Builder
	if name != "" {
		b.WriteString(name)
		b.WriteString(": ")
	}
	b.WriteString(strings.TrimSuffix(msg, "\n"))
	if len(args)%2 == 1 {
		args = append(args[:len(args)-1:len(args)-1], hclog.MissingKey, args[len(args)-1])
	}
	for i := 0; i < len(args); i += 2 {
		b.WriteByte(' ')
		b.WriteString(fmt.Sprint(args[i]))
		b.WriteByte('=')
		b.WriteString(formatValue(args[i+1]))
	}
	return b.String()
}

func formatValue(v any) string {
	var s string
	switch x := v.(type) {
	case hclog.Format:
		if len(x) == 0 {
			return ""
		}
		s = fmt.Sprintf(fmt.Sprint(x[0]), x[1:]...)
	case hclog.Quote:
		return strconv.Quote(string(x))
	case hclog.Hex:
		return "0x" + strconv.FormatInt(int64(x), 16)
	case hclog.Octal:
		return "0" + strconv.FormatInt(int64(x), 8)
	case hclog.Binary:
		return "0b" + strconv.FormatInt(int64(x), 2)
	case error:
		s = x.Error()
	case fmt.Stringer:
		s = x.String()
	case string:
		s = x
	default:
		return fmt.Sprint(v)
	}
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return strconv.Quote(s)
	}
	return s
}
