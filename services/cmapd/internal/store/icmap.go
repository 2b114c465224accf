package store

import (
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// ConnID names the owner of iterators and trackers: a client connection,
// or Internal for the daemon's own trackers.
type ConnID uint64

// Internal is the owner of trackers the daemon registers for itself
// (config_version, logging, …). Client connections use other ids.
const Internal ConnID = 0

// Event is one tracker notification: what changed, for which tracker.
// New is absent (type None) on DELETE and Old on ADD. Trackers registered
// by Internal carry Conn == Internal.
type Event struct {
	Conn   ConnID
	Track  uint64 // tracker handle the daemon gave out
	Cookie uint64 // track_inst_handle the client chose; echoed to it
	Kind   int32  // exactly one of TrackAdd, TrackDelete, TrackModify
	Key    string
	New    value.Value
	Old    value.Value
}

type tracker struct {
	handle uint64
	conn   ConnID
	cookie uint64
	key    string
	flags  int32
}

// matches applies libqb's trie notification rule: the event bit must be
// requested, and the key must equal the tracker key or, with PREFIX,
// start with it (an empty prefix tracks everything).
func (t *tracker) matches(key string, kind int32) bool {
	if t.flags&kind == 0 {
		return false
	}
	if t.flags&TrackPrefix != 0 {
		return strings.HasPrefix(key, t.key)
	}
	return key == t.key
}

// icmap is the default map: stored values plus its trackers, in
// registration order (the order notifications are generated in).
type icmap struct {
	data   ordered
	tracks []*tracker
}

func newIcmap() icmap { return icmap{data: newOrdered()} }

// set validates and stores a value with icmap_set's order of checks:
// value rules first, then "unchanged → nothing", then the name of a new key.
func (m *icmap) set(key string, t value.Type, data []byte) (cs.Error, []Event) {
	v, err := value.New(t, data)
	if err != cs.OK {
		return err, nil
	}
	return m.setValue(key, v)
}

// setValue stores an already normalised value (see value.New).
func (m *icmap) setValue(key string, v value.Value) (cs.Error, []Event) {
	old, exists := m.data.get(key)
	if exists && old.Equal(v) {
		return cs.OK, nil
	}
	if !exists && !ValidKeyName(key) {
		return cs.ErrNameTooLong, nil
	}
	m.data.put(key, v)
	if exists {
		return cs.OK, m.notify(TrackModify, key, v, old)
	}
	return cs.OK, m.notify(TrackAdd, key, v, value.Value{})
}

func (m *icmap) del(key string) (cs.Error, []Event) {
	old, ok := m.data.remove(key)
	if !ok {
		return cs.ErrNotExist, nil
	}
	return cs.OK, m.notify(TrackDelete, key, value.Value{}, old)
}

func (m *icmap) adjust(key string, step int32) (cs.Error, []Event) {
	v, err := m.adjusted(key, step)
	if err != cs.OK {
		return err, nil
	}
	return m.setValue(key, v)
}

// adjusted is key's value plus step, for the two adjust operations.
func (m *icmap) adjusted(key string, step int32) (value.Value, cs.Error) {
	old, ok := m.data.get(key)
	if !ok {
		return value.Value{}, cs.ErrNotExist
	}
	return old.Adjust(step)
}

// fastAdjust is icmap_fast_adjust_int: the counter changes in place and
// trackers see MODIFY with no old value. Corosync uses it for its own
// per-message counters.
func (m *icmap) fastAdjust(key string, step int32) (cs.Error, []Event) {
	v, err := m.adjusted(key, step)
	if err != cs.OK {
		return err, nil
	}
	m.data.put(key, v)
	return cs.OK, m.notify(TrackModify, key, v, value.Value{})
}

func (m *icmap) notify(kind int32, key string, nv, ov value.Value) []Event {
	return trackEvents(m.tracks, kind, key, nv, ov)
}

// base gives the tracker of both maps' tracker types (statsTracker embeds it).
func (t *tracker) base() *tracker { return t }

// trackEvents is one event for every tracker of key that wants kind.
func trackEvents[T interface{ base() *tracker }](tracks []T, kind int32, key string, nv, ov value.Value) []Event {
	var evs []Event
	for _, tr := range tracks {
		if t := tr.base(); t.matches(key, kind) {
			evs = append(evs, Event{Conn: t.conn, Track: t.handle, Cookie: t.cookie,
				Kind: kind, Key: key, New: nv, Old: ov})
		}
	}
	return evs
}

func (m *icmap) addTrack(t *tracker) cs.Error {
	if t.flags&^trackAll != 0 {
		return cs.ErrInvalidParam
	}
	m.tracks = append(m.tracks, t)
	return cs.OK
}

func (m *icmap) removeTrack(handle uint64) {
	for i, t := range m.tracks {
		if t.handle == handle {
			m.tracks = append(m.tracks[:i], m.tracks[i+1:]...)
			return
		}
	}
}
