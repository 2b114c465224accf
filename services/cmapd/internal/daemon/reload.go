package daemon

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/services/cmapd/internal/load"
)

// reload re-reads corosync.conf the way `corosync-cfgtool -R` makes each
// node do (spec/cmap.md §10): a file that does not parse or validate
// changes nothing but the in-progress flags corosync leaves behind, and
// is logged with the reason. It returns the status and the log lines.
func (s *service) reload(why string) (cs.Error, []string) {
	s.log.Info("reloading configuration", "trigger", why, "file", s.path)
	s.apply([]load.Step{load.ReloadBegin()})
	var plan load.Plan
	parsed, err := coroconf.Load(s.path, coroconf.LoadOptions{})
	if err != nil {
		plan = load.ReloadParseFailed(err)
	} else {
		derived := make(coroconf.Map, len(parsed)+32)
		for k, v := range parsed {
			derived[k] = v
		}
		env := coroconf.SystemEnv(coroconf.StateDir(derived))
		t, _, err := coroconf.ReadTotem(derived, env)
		if err == nil {
			err = coroconf.Validate(t, derived, env, coroconf.ValidateOptions{Needle: true})
		}
		var invalid error
		if err == nil {
			_, err = logsys.Parse(parsed.Strings("logging."))
		}
		if err != nil {
			invalid = invalidConfig{err}
			derived = nil
		}
		plan = load.Reload(s.st, parsed, derived, invalid, load.ReloadOptions{CryptoReconf: true})
	}
	s.apply(plan.Steps)
	for _, l := range plan.Log {
		if plan.Status == cs.OK {
			logsys.Notice(s.log, l)
		} else {
			s.log.Error(l)
		}
	}
	if plan.Status == cs.OK {
		if lc, err := logsys.Parse(s.stringsWithPrefix("logging.")); err == nil {
			if err := s.logs.Apply(lc); err != nil {
				s.log.Error("logging not re-applied", "error", err)
			}
		}
		logsys.Notice(s.log, "Configuration reloaded")
	}
	return plan.Status, plan.Log
}

// stringsWithPrefix renders the live keys under prefix as logsys wants
// them (every value as its string form).
func (s *service) stringsWithPrefix(prefix string) map[string]string {
	m := make(map[string]string)
	for _, k := range s.st.Keys(prefix) {
		v, _ := s.st.Get(k)
		if s, ok := v.AsString(); ok {
			m[k] = s
		} else if n, ok := v.AsUint(); ok {
			m[k] = fmt.Sprint(n)
		} else if n, ok := v.AsInt(); ok {
			m[k] = fmt.Sprint(n)
		}
	}
	return m
}

// watch reloads after the configuration file (or its uidgid.d) changed
// and stayed quiet for the debounce time. The directory is watched, so
// editors that replace the file by renaming are seen too.
func (s *service) watch(done <-chan struct{}) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("fsnotify: %w", err)
	}
	dir := filepath.Dir(s.path)
	if err := w.Add(dir); err != nil {
		w.Close()
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	uidgid := filepath.Join(dir, "uidgid.d")
	_ = w.Add(uidgid) // optional directory
	base := filepath.Base(s.path)
	go func() {
		defer w.Close()
		var timer *time.Timer
		var fire <-chan time.Time
		for {
			select {
			case <-done:
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Base(ev.Name) != base && filepath.Dir(ev.Name) != uidgid && ev.Name != uidgid {
					continue
				}
				if ev.Name == uidgid && ev.Has(fsnotify.Create) {
					_ = w.Add(uidgid)
				}
				if timer == nil {
					timer = time.NewTimer(s.debounce)
				} else {
					timer.Reset(s.debounce)
				}
				fire = timer.C
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				s.log.Warn("configuration watch error", "error", err)
			case <-fire:
				fire = nil
				s.loop.Post(func() { s.reload("file changed") })
			}
		}
	}()
	return nil
}

// invalidConfig is a configuration that parsed but did not validate, in
// the words corosync logs for it.
type invalidConfig struct{ err error }

func (e invalidConfig) Error() string { return "Configuration is not valid: " + e.err.Error() }
func (e invalidConfig) Unwrap() error { return e.err }
