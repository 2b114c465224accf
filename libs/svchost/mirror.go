package svchost

import (
	"maps"
	"slices"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// Mirror is a local copy of some cmap prefixes with change events: the
// read half of CmapMirror, fed by whoever learns the changes (the host
// from cmapd's track notifications; totemd from the same notifications
// routed to itself). Not goroutine-safe: its owner goroutine feeds and
// reads it.
type Mirror struct {
	keys     map[string]value.Value
	watchers []watcher
}

type watcher struct {
	prefix string
	f      func(changed []string)
}

// Change is one key's new state; Deleted means it is gone.
type Change struct {
	Key     string
	Value   value.Value
	Deleted bool
}

// NewMirror returns an empty mirror.
func NewMirror() *Mirror { return &Mirror{keys: map[string]value.Value{}} }

// Get returns key's value, if present.
func (m *Mirror) Get(key string) (value.Value, bool) {
	v, ok := m.keys[key]
	return v, ok
}

// Keys lists the present keys below prefix, sorted.
func (m *Mirror) Keys(prefix string) []string {
	var out []string
	for k := range m.keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Watch calls f after every Apply or Replace that changed a key below
// prefix, with the changed keys sorted.
func (m *Mirror) Watch(prefix string, f func(changed []string)) {
	m.watchers = append(m.watchers, watcher{prefix, f})
}

// Apply takes one committed change of cmapd (every key that changed in
// it) and notifies the watchers once.
func (m *Mirror) Apply(changes []Change) {
	changed := map[string]bool{}
	for _, c := range changes {
		old, had := m.keys[c.Key]
		switch {
		case c.Deleted && had:
			delete(m.keys, c.Key)
			changed[c.Key] = true
		case !c.Deleted && (!had || !old.Equal(c.Value)):
			m.keys[c.Key] = c.Value.Clone()
			changed[c.Key] = true
		}
	}
	m.notify(changed)
}

// Replace makes the keys below prefix exactly snapshot (a track's initial
// load, or a reload after cmapd restarted) and notifies what differs.
func (m *Mirror) Replace(prefix string, snapshot map[string]value.Value) {
	var changes []Change
	for k := range m.keys {
		if _, ok := snapshot[k]; !ok && strings.HasPrefix(k, prefix) {
			changes = append(changes, Change{Key: k, Deleted: true})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(snapshot)) {
		if strings.HasPrefix(k, prefix) {
			changes = append(changes, Change{Key: k, Value: snapshot[k]})
		}
	}
	m.Apply(changes)
}

func (m *Mirror) notify(changed map[string]bool) {
	if len(changed) == 0 {
		return
	}
	all := slices.Sorted(maps.Keys(changed))
	for _, w := range m.watchers {
		var mine []string
		for _, k := range all {
			if strings.HasPrefix(k, w.prefix) {
				mine = append(mine, k)
			}
		}
		if len(mine) > 0 {
			w.f(mine)
		}
	}
}
