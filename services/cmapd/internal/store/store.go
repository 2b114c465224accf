package store

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// MapID selects a map per connection (cmap_map_t).
type MapID int32

// The two maps of corosync 3.x.
const (
	MapIcmap MapID = 0
	MapStats MapID = 1
)

// Result is the outcome of a mutation: the status the client gets, the
// tracker notifications to deliver (in order), and for a stats.clear.*
// set what the client asked to clear.
type Result struct {
	Err    cs.Error
	Events []Event
	Clear  StatsClear
}

// IterEntry is what ITER_NEXT reports: the key, its stored length and type
// (not the value).
type IterEntry struct {
	Key  string
	Len  uint64
	Type value.Type
}

// Store is cmapd's whole map state. Event values share bytes with the
// store: callers must not modify them.
type Store struct {
	icmap      icmap
	stats      statsMap
	ro         readOnly
	conns      map[ConnID]*conn
	lastHandle uint64
}

type conn struct {
	sel    MapID
	iters  map[uint64]*iterator
	tracks map[uint64]MapID
}

type iterator struct {
	sel     MapID
	prefix  string
	last    string
	started bool
	done    bool
}

// New returns an empty store with corosync's start-up read-only rules.
func New() *Store {
	s := &Store{icmap: newIcmap(), stats: newStatsMap(), ro: newReadOnly(), conns: make(map[ConnID]*conn)}
	s.conns[Internal] = newConn()
	return s
}

func newConn() *conn {
	return &conn{iters: make(map[uint64]*iterator), tracks: make(map[uint64]MapID)}
}

// handle returns a fresh opaque handle; 0 is never used (it means "none"
// in replies).
func (s *Store) handle() uint64 {
	s.lastHandle++
	return s.lastHandle
}

// Connect registers a client connection; it starts on the default map.
func (s *Store) Connect(c ConnID) error {
	if c == Internal {
		return fmt.Errorf("store: connection id %d is reserved for the daemon", c)
	}
	if _, ok := s.conns[c]; ok {
		return fmt.Errorf("store: connection %d already connected", c)
	}
	s.conns[c] = newConn()
	return nil
}

// Disconnect frees the connection's iterators and trackers.
func (s *Store) Disconnect(c ConnID) {
	cn, ok := s.conns[c]
	if !ok {
		return
	}
	for h, sel := range cn.tracks {
		s.dropTrack(h, sel)
	}
	if c != Internal {
		delete(s.conns, c)
	}
}

func (s *Store) dropTrack(h uint64, sel MapID) {
	if sel == MapStats {
		s.stats.removeTrack(h)
	} else {
		s.icmap.removeTrack(h)
	}
}

// SetCurrentMap switches the connection's map; refused with CS_ERR_BUSY
// while it has iterators or trackers, CS_ERR_NOT_EXIST for unknown maps.
func (s *Store) SetCurrentMap(c ConnID, m MapID) cs.Error {
	cn, ok := s.conns[c]
	if !ok {
		return cs.ErrBadHandle
	}
	if len(cn.iters) > 0 || len(cn.tracks) > 0 {
		return cs.ErrBusy
	}
	if m != MapIcmap && m != MapStats {
		return cs.ErrNotExist
	}
	cn.sel = m
	return cs.OK
}

// CurrentMap reports the connection's selected map.
func (s *Store) CurrentMap(c ConnID) (MapID, bool) {
	cn, ok := s.conns[c]
	if !ok {
		return 0, false
	}
	return cn.sel, true
}

// ClientSet is a SET from an IPC client: read-only keys first
// (CS_ERR_ACCESS even when the key does not exist), then the value rules.
// On the stats map only stats.clear.* is writable, and its value is ignored.
func (s *Store) ClientSet(c ConnID, key string, t value.Type, data []byte) Result {
	cn, ok := s.conns[c]
	if !ok {
		return Result{Err: cs.ErrBadHandle}
	}
	if cn.sel == MapStats {
		if statsKeyRO(key) {
			return Result{Err: cs.ErrAccess}
		}
		cl := clearTargets(key)
		if cl == 0 {
			return Result{Err: cs.ErrNotSupported}
		}
		return Result{Err: cs.OK, Clear: cl}
	}
	if s.ro.is(key) {
		return Result{Err: cs.ErrAccess}
	}
	err, evs := s.icmap.set(key, t, data)
	return Result{Err: err, Events: evs}
}

// ClientDelete is a DELETE from an IPC client.
func (s *Store) ClientDelete(c ConnID, key string) Result {
	if e := s.icmapWritable(c, key); e != cs.OK {
		return Result{Err: e}
	}
	err, evs := s.icmap.del(key)
	return Result{Err: err, Events: evs}
}

// ClientAdjust is ADJUST_INT (cmap_inc/cmap_dec) from an IPC client.
func (s *Store) ClientAdjust(c ConnID, key string, step int32) Result {
	if e := s.icmapWritable(c, key); e != cs.OK {
		return Result{Err: e}
	}
	err, evs := s.icmap.adjust(key, step)
	return Result{Err: err, Events: evs}
}

// icmapWritable is the access check of DELETE and ADJUST_INT: an unknown
// connection is a bad handle; on the stats map read-only keys are
// CS_ERR_ACCESS and everything else is not supported; on the icmap the
// read-only rules decide.
func (s *Store) icmapWritable(c ConnID, key string) cs.Error {
	cn, ok := s.conns[c]
	switch {
	case !ok:
		return cs.ErrBadHandle
	case cn.sel == MapStats && statsKeyRO(key):
		return cs.ErrAccess
	case cn.sel == MapStats:
		return cs.ErrNotSupported
	case s.ro.is(key):
		return cs.ErrAccess
	}
	return cs.OK
}

// ClientGet is GET from an IPC client on its selected map. The caller
// applies the reply's buffer-size rule (wire.GetResponse).
func (s *Store) ClientGet(c ConnID, key string) (value.Value, cs.Error) {
	cn, ok := s.conns[c]
	if !ok {
		return value.Value{}, cs.ErrBadHandle
	}
	var v value.Value
	if cn.sel == MapStats {
		v, ok = s.stats.data.get(key)
	} else {
		v, ok = s.icmap.data.get(key)
	}
	if !ok {
		return value.Value{}, cs.ErrNotExist
	}
	return v, cs.OK
}

// IterInit starts a prefix iteration ("" = all keys) on the selected map.
func (s *Store) IterInit(c ConnID, prefix string) (uint64, cs.Error) {
	cn, ok := s.conns[c]
	if !ok {
		return 0, cs.ErrBadHandle
	}
	h := s.handle()
	cn.iters[h] = &iterator{sel: cn.sel, prefix: prefix}
	return h, cs.OK
}

// IterNext returns the next key in byte order; CS_ERR_NO_SECTIONS at the
// end and ever after, CS_ERR_BAD_HANDLE for a handle the connection does
// not own.
func (s *Store) IterNext(c ConnID, h uint64) (IterEntry, cs.Error) {
	cn, ok := s.conns[c]
	if !ok {
		return IterEntry{}, cs.ErrBadHandle
	}
	it, ok := cn.iters[h]
	if !ok {
		return IterEntry{}, cs.ErrBadHandle
	}
	if it.done {
		return IterEntry{}, cs.ErrNoSections
	}
	data := &s.icmap.data
	if it.sel == MapStats {
		data = &s.stats.data
	}
	key, ok := data.next(it.prefix, it.last, it.started)
	if !ok {
		it.done = true
		return IterEntry{}, cs.ErrNoSections
	}
	it.last, it.started = key, true
	v, _ := data.get(key)
	e := IterEntry{Key: key, Len: uint64(len(v.Data)), Type: v.Type}
	if it.sel == MapStats {
		// The stats map reports the type's fixed size without reading the
		// value, so strings (procname) iterate with length 0.
		e.Len = uint64(v.Type.Size())
	}
	return e, cs.OK
}

// IterFinalize frees an iterator.
func (s *Store) IterFinalize(c ConnID, h uint64) cs.Error {
	cn, ok := s.conns[c]
	if !ok {
		return cs.ErrBadHandle
	}
	if _, ok := cn.iters[h]; !ok {
		return cs.ErrBadHandle
	}
	delete(cn.iters, h)
	return cs.OK
}

// TrackAdd registers a tracker on the selected map. key "" with PREFIX
// tracks every key; cookie is echoed in every event.
func (s *Store) TrackAdd(c ConnID, key string, flags int32, cookie uint64) (uint64, cs.Error) {
	cn, ok := s.conns[c]
	if !ok {
		return 0, cs.ErrBadHandle
	}
	t := tracker{handle: s.handle(), conn: c, cookie: cookie, key: key, flags: flags}
	if cn.sel == MapStats {
		if _, err := s.stats.addTrack(t); err != cs.OK {
			return 0, err
		}
	} else if err := s.icmap.addTrack(&t); err != cs.OK {
		return 0, err
	}
	cn.tracks[t.handle] = cn.sel
	return t.handle, cs.OK
}

// TrackDelete removes a tracker and returns the cookie it was registered
// with (0 with CS_ERR_BAD_HANDLE for an unknown handle).
func (s *Store) TrackDelete(c ConnID, h uint64) (uint64, cs.Error) {
	cn, ok := s.conns[c]
	if !ok {
		return 0, cs.ErrBadHandle
	}
	sel, ok := cn.tracks[h]
	if !ok {
		return 0, cs.ErrBadHandle
	}
	var cookie uint64
	if sel == MapStats {
		for _, t := range s.stats.tracks {
			if t.handle == h {
				cookie = t.cookie
			}
		}
	} else {
		for _, t := range s.icmap.tracks {
			if t.handle == h {
				cookie = t.cookie
			}
		}
	}
	s.dropTrack(h, sel)
	delete(cn.tracks, h)
	return cookie, cs.OK
}

// The daemon's own access to the icmap: no read-only rules, as in
// corosync where only IPC clients are restricted.

// Get returns a stored icmap value.
func (s *Store) Get(key string) (value.Value, bool) { return s.icmap.data.get(key) }

// Set stores v (normalised with value.New's rules) under key.
func (s *Store) Set(key string, v value.Value) Result {
	err, evs := s.icmap.set(key, v.Type, v.Data)
	return Result{Err: err, Events: evs}
}

// Delete removes key.
func (s *Store) Delete(key string) Result {
	err, evs := s.icmap.del(key)
	return Result{Err: err, Events: evs}
}

// Adjust adds step to an integer key with the normal set path (MODIFY
// with old and new value).
func (s *Store) Adjust(key string, step int32) Result {
	err, evs := s.icmap.adjust(key, step)
	return Result{Err: err, Events: evs}
}

// FastAdjust adds step in place; trackers see MODIFY without an old value.
func (s *Store) FastAdjust(key string, step int32) Result {
	err, evs := s.icmap.fastAdjust(key, step)
	return Result{Err: err, Events: evs}
}

// Keys lists the icmap keys under prefix in iteration order.
func (s *Store) Keys(prefix string) []string { return s.icmap.data.withPrefix(prefix) }

// Track registers a tracker owned by the daemon itself (Conn Internal).
func (s *Store) Track(key string, flags int32, cookie uint64) (uint64, cs.Error) {
	cn := s.conns[Internal]
	sel := cn.sel
	cn.sel = MapIcmap
	h, err := s.TrackAdd(Internal, key, flags, cookie)
	cn.sel = sel
	return h, err
}

// Untrack removes a tracker registered with Track.
func (s *Store) Untrack(h uint64) cs.Error {
	_, err := s.TrackDelete(Internal, h)
	return err
}

// SetReadOnly adds or removes a read-only rule, as icmap_set_ro_access.
func (s *Store) SetReadOnly(key string, prefix, ro bool) cs.Error { return s.ro.set(key, prefix, ro) }

// IsReadOnly reports whether clients may not change key.
func (s *Store) IsReadOnly(key string) bool { return s.ro.is(key) }

// PutStat creates or refreshes a stats key; creation notifies ADD.
func (s *Store) PutStat(key string, v value.Value) []Event { return s.stats.put(key, v) }

// RemoveStat deletes a stats key; trackers see DELETE with its last value.
func (s *Store) RemoveStat(key string) []Event { return s.stats.remove(key) }

// Stat returns a stats value.
func (s *Store) Stat(key string) (value.Value, bool) { return s.stats.data.get(key) }

// StatKeys lists the stats keys under prefix in order.
func (s *Store) StatKeys(prefix string) []string { return s.stats.data.withPrefix(prefix) }

// PollStats fires the exact-key stats trackers whose value changed; the
// driver calls it every 1.5 s, as corosync's stats updater does.
func (s *Store) PollStats() []Event { return s.stats.poll() }
