package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/services/cmapd/internal/load"
)

// Reload bounds: a corosync.conf is a few kilobytes (a 384-node nodelist
// is about 100 KiB), so a file beyond these is refused, whole, before it
// can stall the daemon or its memory (a 50 MB file of 1.4 M keys took
// corosync 3.2 s and 768 MB).
const (
	maxReloadBytes = 8 << 20
	maxReloadKeys  = 1 << 16
)

// reloadInput is the configuration file read, parsed and validated: work
// that needs no live state, so the file watch does it off the owner loop
// and clients are served meanwhile.
type reloadInput struct {
	parsed, derived coroconf.Map
	invalid         error // parsed, but not a valid configuration
	err             error // not read or not parsed (its text names FILE:LINE)
}

// usable reports whether the file may replace the running configuration
// on its own initiative (an auto-reload): it parsed, validated and is not
// empty. Why not, otherwise.
func (in reloadInput) usable() error {
	switch {
	case in.err != nil:
		return in.err
	case len(in.parsed) == 0:
		return errors.New("the file is empty")
	case in.invalid != nil:
		return in.invalid
	}
	return nil
}

// readReload reads and checks the configuration file at path.
func readReload(path string) reloadInput {
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxReloadBytes {
		return reloadInput{err: fmt.Errorf("%s: %d bytes, more than the %d a reload reads", path, fi.Size(), maxReloadBytes)}
	}
	parsed, err := coroconf.Load(path, coroconf.LoadOptions{})
	if err != nil {
		return reloadInput{err: err}
	}
	if len(parsed) > maxReloadKeys {
		return reloadInput{err: fmt.Errorf("%s: %d keys, more than the %d a reload loads", path, len(parsed), maxReloadKeys)}
	}
	derived := make(coroconf.Map, len(parsed)+32)
	for k, v := range parsed {
		derived[k] = v
	}
	env := coroconf.SystemEnv(coroconf.StateDir(derived))
	t, _, err := coroconf.ReadTotem(derived, env)
	if err == nil {
		err = coroconf.Validate(t, derived, env, coroconf.ValidateOptions{Needle: true})
	}
	if err == nil {
		_, err = logsys.Parse(parsed.Strings("logging."))
	}
	if err != nil {
		return reloadInput{parsed: parsed, invalid: invalidConfig{err}}
	}
	return reloadInput{parsed: parsed, derived: derived}
}

// reload re-reads corosync.conf the way `corosync-cfgtool -R` makes each
// node do (spec/cmap.md §10): a file that does not parse or validate, or
// is empty, changes nothing but the in-progress flags corosync leaves
// behind, and is logged with the reason. It returns the status and the
// log lines.
//
// Deliberately unlike corosync 3.1.7, which on -R deletes the keys the
// new file lacks before it validates it: an empty or invalid file there
// costs every totem., nodelist., quorum. and logging. key, the read-only
// ones (totem.cluster_name, totem.version, totem.transport,
// quorum.provider: keys Pacemaker reads) never come back without a
// restart, and the node loses its nodelist (TestAutoReloadNeverLosesConfig
// shows both). Validating first, as the file-watch reload does, keeps the
// running configuration instead.
func (s *service) reload(why string) (cs.Error, []string) {
	s.log.Info("reloading configuration", "trigger", why, "file", s.path)
	in := readReload(s.path)
	if err := in.usable(); err != nil && in.err == nil {
		in = reloadInput{err: fmt.Errorf("%s: %w; the running configuration is unchanged", s.path, err)}
	}
	return s.applyReload(in)
}

// applyReload makes the live map follow in, in one turn of the owner loop
// (clients see the map before or after, never half of it). Neither
// reload hands it an invalid in (load.Reload would then delete the keys
// the file lacks, as corosync 3.1.7 does).
func (s *service) applyReload(in reloadInput) (cs.Error, []string) {
	s.apply([]load.Step{load.ReloadBegin()})
	var plan load.Plan
	if in.err != nil {
		plan = load.ReloadParseFailed(in.err)
	} else {
		plan = load.Reload(s.st, in.parsed, in.derived, in.invalid, load.ReloadOptions{CryptoReconf: true})
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

// autoReload is what a change of the file leads to, on the watch's
// goroutine: read and check it there, then apply it on the owner loop
// only when it is a usable configuration. An empty, truncated (a copy in
// progress), unparsable or invalid file changes nothing and is logged:
// unlike cfgtool -R, nobody asked for this reload, so it must not cost
// the keys a half-written file lacks.
func (s *service) autoReload() {
	in := readReload(s.path)
	if err := in.usable(); err != nil {
		s.log.Error("configuration file changed but not reloaded; the running configuration is unchanged", "file", s.path, "reason", err)
		return
	}
	s.loop.Post(func() {
		s.log.Info("reloading configuration", "trigger", "file changed", "file", s.path)
		s.applyReload(in)
	})
}

// stringsWithPrefix renders the live keys under prefix as logsys wants
// them (every value as its string form).
func (s *service) stringsWithPrefix(prefix string) map[string]string {
	m := coroconf.Map{}
	for _, k := range s.st.Keys(prefix) {
		m[k], _ = s.st.Get(k)
	}
	return m.Texts(prefix)
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
				s.autoReload()
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
