package coroconf

import (
	"os"
	"syscall"
)

// CheckOptions configure Check; zero fields use the real system.
type CheckOptions struct {
	Load LoadOptions
	// Env builds the host view for a state directory; nil means SystemEnv.
	Env func(stateDir string) Env
	// ValidateLogging checks the logging.* keys (full names, string
	// values) and returns Corosync's reason text on error; nil skips it.
	ValidateLogging func(keys map[string]string) error
	// StateDir checks that the state directory can be entered; nil uses
	// os.Stat.
	StateDir func(dir string) error
	// Needle validates for needle's daemon rather than for corosync:
	// crypto is allowed on udp/udpu (see ValidateOptions).
	Needle bool
}

// CheckResult is a configuration that passed Check.
type CheckResult struct {
	Map      Map
	Totem    *Totem
	Warnings []string // deprecation warnings corosync logs before validating
}

// Check runs the steps of `corosync -t -c path` in Corosync's order: parse
// (with uidgid.d), logging, state directory, totem read, validation. The
// error is an *Error with Corosync's text and exit code; warnings found
// before a validation error are returned with it.
func Check(path string, opts CheckOptions) (*CheckResult, error) {
	m, err := Load(path, opts.Load)
	if err != nil {
		return nil, err
	}
	res := &CheckResult{Map: m}
	if opts.ValidateLogging != nil {
		if err := opts.ValidateLogging(m.Strings("logging.")); err != nil {
			return res, &Error{Exit: ExitLogging, Msg: "parse error in config: " + err.Error() + "."}
		}
	}
	dir := StateDir(m)
	statDir := opts.StateDir
	if statDir == nil {
		statDir = checkDir
	}
	if err := statDir(dir); err != nil {
		return res, &Error{Exit: ExitStateDir, Msg: "Cannot chdir to state directory " + dir + ". " + Strerror(err), Logged: true}
	}
	env := SystemEnv(dir)
	if opts.Env != nil {
		env = opts.Env(dir)
	}
	t, warnings, err := ReadTotem(m, env)
	if err != nil {
		return res, logged(err)
	}
	res.Totem, res.Warnings = t, warnings
	if err := Validate(t, m, env, ValidateOptions{Needle: opts.Needle}); err != nil {
		return res, logged(err)
	}
	return res, nil
}

func logged(err error) error {
	if e, ok := err.(*Error); ok {
		e.Logged = true
	}
	return err
}

func checkDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return syscall.ENOTDIR
	}
	return nil
}
