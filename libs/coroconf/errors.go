package coroconf

// Exit codes of corosync 3.1.7 (config.md §1).
const (
	ExitConfig   = 8  // main config read/parse/validation error
	ExitLogging  = 7  // logging configuration error
	ExitStateDir = 16 // state directory missing
)

// Error is a configuration error with the exact text Corosync prints and
// the exit code it exits with. Logged tells whether corosync reports it
// through its logger (an "error [MAIN  ]" line) rather than as a bare line
// on stderr before logging is set up (parse and logging errors).
type Error struct {
	Exit   int
	Msg    string
	Logged bool
}

func (e *Error) Error() string { return e.Msg }

// errString is a message produced inside the grammar callbacks; the parser
// wraps it into "parser error: FILE:LINE: msg".
type errString string

func (e errString) Error() string { return string(e) }

func configError(msg string) *Error { return &Error{Exit: ExitConfig, Msg: msg} }

// peError formats a totem validation error the way corosync prefixes them.
func peError(msg string) *Error { return configError("parse error in config: " + msg) }
