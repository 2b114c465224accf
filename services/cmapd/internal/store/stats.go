package store

import (
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// StatsClear is the set of statistics a client asked to clear by setting
// a stats.clear.* key; the driver forwards it to the owners of the
// counters.
type StatsClear uint8

// The clear targets. All is what stats.clear.all asks for.
const (
	ClearKnet StatsClear = 1 << iota
	ClearIPC
	ClearTotem
	ClearSchedmiss

	ClearAll = ClearKnet | ClearIPC | ClearTotem | ClearSchedmiss
)

const (
	statsClearPrefix = "stats.clear."
	schedmissPrefix  = "stats.schedmiss"
)

// statsMap is the stats map (cmap.md §7). Corosync computes each value on
// read; here the driver keeps the values fresh with PutStat, which keeps
// the core pure. Keys appear and disappear with PutStat/RemoveStat
// (ADD/DELETE events), and exact-key trackers fire MODIFY when PollStats
// sees changed bytes.
type statsMap struct {
	data   ordered
	tracks []*statsTracker
}

type statsTracker struct {
	tracker
	last value.Value // bytes seen at the last poll (or at track_add)
}

func newStatsMap() statsMap { return statsMap{data: newOrdered()} }

func (m *statsMap) put(key string, v value.Value) []Event {
	_, existed := m.data.get(key)
	m.data.put(key, v)
	if existed {
		return nil
	}
	return m.notify(TrackAdd, key, v)
}

func (m *statsMap) remove(key string) []Event {
	v, ok := m.data.remove(key)
	if !ok {
		return nil
	}
	return m.notify(TrackDelete, key, v)
}

// notify reports creation or removal of a stats key. Like corosync, both
// the new and the old value of the event carry the current value, and
// schedmiss entries never notify this way.
func (m *statsMap) notify(kind int32, key string, v value.Value) []Event {
	if strings.HasPrefix(key, schedmissPrefix) {
		return nil
	}
	return trackEvents(m.tracks, kind, key, v, v)
}

// poll is stats_trigger_trackers: every exact-key tracker (whatever its
// event bits) gets MODIFY, with the current value as new and old, when the
// key's bytes differ from what it last saw.
func (m *statsMap) poll() []Event {
	var evs []Event
	for _, t := range m.tracks {
		if t.flags&TrackPrefix != 0 || t.key == "" {
			continue
		}
		v, ok := m.data.get(t.key)
		if !ok || string(v.Data) == string(t.last.Data) {
			continue
		}
		t.last = v
		evs = append(evs, Event{Conn: t.conn, Track: t.handle, Cookie: t.cookie,
			Kind: TrackModify, Key: t.key, New: v, Old: v})
	}
	return evs
}

// addTrack registers a tracker. Prefix trackers must ask for both ADD and
// DELETE; corosync does not check other bits for this map.
func (m *statsMap) addTrack(t tracker) (*statsTracker, cs.Error) {
	if t.flags&TrackPrefix != 0 && (t.flags&TrackAdd == 0 || t.flags&TrackDelete == 0) {
		return nil, cs.ErrNotSupported
	}
	st := &statsTracker{tracker: t}
	if t.key != "" {
		st.last, _ = m.data.get(t.key)
	}
	m.tracks = append(m.tracks, st)
	return st, cs.OK
}

func (m *statsMap) removeTrack(handle uint64) {
	for i, t := range m.tracks {
		if t.handle == handle {
			m.tracks = append(m.tracks[:i], m.tracks[i+1:]...)
			return
		}
	}
}

// clearTargets maps a stats.clear.* key to what it clears; each name is a
// prefix match, as corosync compares with strncmp. Zero means the key names
// nothing (CS_ERR_NOT_SUPPORTED).
func clearTargets(key string) StatsClear {
	var c StatsClear
	for _, e := range []struct {
		name string
		c    StatsClear
	}{{"knet", ClearKnet}, {"ipc", ClearIPC}, {"totem", ClearTotem}, {"schedmiss", ClearSchedmiss}, {"all", ClearAll}} {
		if strings.HasPrefix(key, statsClearPrefix+e.name) {
			c |= e.c
		}
	}
	return c
}

func statsKeyRO(key string) bool { return !strings.HasPrefix(key, statsClearPrefix) }

// Counts are the store's sizes, for metrics.
type Counts struct {
	Keys, StatsKeys, Tracks, Iterators int
}

// Counts reports how many keys, trackers (clients' and the daemon's own)
// and open iterators the store holds.
func (s *Store) Counts() Counts {
	c := Counts{Keys: s.icmap.data.len(), StatsKeys: s.stats.data.len()}
	for _, cn := range s.conns {
		c.Tracks += len(cn.tracks)
		c.Iterators += len(cn.iters)
	}
	return c
}
