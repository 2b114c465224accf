package daemon

import (
	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// prefixFlags track every change below a prefix.
const prefixFlags = store.TrackAdd | store.TrackDelete | store.TrackModify | store.TrackPrefix

// trackers are the daemon's own prefix trackers on the icmap: one per
// (bus service, prefix) that tracked it through cmapreq.Track, and one per
// local Watch (svchost's view of this map). Their store trackers belong to
// store.Internal and are told apart by cookie (never 0, which is
// config_version's).
type trackers struct {
	s      *service
	next   uint64
	byCook map[uint64]*prefixTrack
	bus    map[busTrackKey]uint64
}

type busTrackKey struct {
	svc    uint16
	prefix string
}

type prefixTrack struct {
	handle uint64
	prefix string
	svc    uint16         // for a bus tracker
	local  func([]string) // for a local watch
	isBus  bool
}

func newTrackers(s *service) *trackers {
	return &trackers{s: s, byCook: map[uint64]*prefixTrack{}, bus: map[busTrackKey]uint64{}}
}

func (t *trackers) add(pt *prefixTrack) cs.Error {
	t.next++
	h, st := t.s.st.Track(pt.prefix, prefixFlags, t.next)
	if st != cs.OK {
		return st
	}
	pt.handle = h
	t.byCook[t.next] = pt
	if pt.isBus {
		t.bus[busTrackKey{pt.svc, pt.prefix}] = t.next
	}
	return cs.OK
}

// track registers a bus service's prefix (again: harmless) and answers
// with the prefix's current keys.
func (t *trackers) track(from uint16, msg []byte) (cs.Error, []byte) {
	prefix, err := cmapreq.DecodeTrack(msg)
	if err != nil {
		t.s.log.Warn("bus track refused", "from", from, "error", err)
		return cs.ErrInvalidParam, cmapwire.GenericError(cs.ErrInvalidParam)
	}
	if _, ok := t.bus[busTrackKey{from, prefix}]; !ok {
		if st := t.add(&prefixTrack{prefix: prefix, svc: from, isBus: true}); st != cs.OK {
			return st, cmapreq.TrackReply(st, nil)
		}
		t.s.log.Debug("service tracks a prefix", "service", from, "prefix", prefix)
	}
	keys := t.s.st.Keys(prefix)
	es := make([]cmapreq.Entry, 0, len(keys))
	for _, k := range keys {
		v, _ := t.s.st.Get(k)
		es = append(es, cmapreq.Entry{Key: k, Value: v})
	}
	return cs.OK, cmapreq.TrackReply(cs.OK, es)
}

// dropService forgets every registration of a service that is gone.
func (t *trackers) dropService(svc uint16) {
	for k, cookie := range t.bus {
		if k.svc != svc {
			continue
		}
		if pt := t.byCook[cookie]; pt != nil {
			t.s.st.Untrack(pt.handle)
		}
		delete(t.byCook, cookie)
		delete(t.bus, k)
	}
}

// events turns the prefix trackers' events of one committed change into
// one notification per bus service and one call per local watch.
func (t *trackers) events(evs []store.Event) {
	if len(evs) == 0 {
		return
	}
	perSvc := map[uint16][]cmapreq.Entry{}
	var order []uint16
	perLocal := map[uint64][]string{}
	var localOrder []uint64
	for _, e := range evs {
		pt, ok := t.byCook[e.Cookie]
		if !ok {
			continue
		}
		if !pt.isBus {
			if _, seen := perLocal[e.Cookie]; !seen {
				localOrder = append(localOrder, e.Cookie)
			}
			perLocal[e.Cookie] = append(perLocal[e.Cookie], e.Key)
			continue
		}
		if _, seen := perSvc[pt.svc]; !seen {
			order = append(order, pt.svc)
		}
		en := cmapreq.Entry{Key: e.Key, Value: e.New}
		if e.Kind == store.TrackDelete {
			en = cmapreq.Entry{Key: e.Key, Deleted: true}
		}
		perSvc[pt.svc] = append(perSvc[pt.svc], en)
	}
	for _, svc := range order {
		t.s.host.Request(svc, cmapreq.Changed(perSvc[svc]), func(st cs.Error, _ []byte) {
			if st == cs.ErrNotExist {
				t.dropService(svc)
			}
		})
	}
	for _, c := range localOrder {
		if pt, ok := t.byCook[c]; ok {
			pt.local(perLocal[c])
		}
	}
}

// OwnCmap is svchost's view of this map (svchost.CmapOwner): the uidgid
// rules read it at every connection attempt.
func (s *service) OwnCmap() svchost.CmapMirror { return ownCmap{s} }

type ownCmap struct{ s *service }

func (o ownCmap) Get(key string) (value.Value, bool) { return o.s.st.Get(key) }
func (o ownCmap) Keys(prefix string) []string        { return o.s.st.Keys(prefix) }

func (o ownCmap) Watch(prefix string, f func(changed []string)) {
	o.s.tracks.add(&prefixTrack{prefix: prefix, local: f})
}

func (o ownCmap) Set(key string, v value.Value, done func(cs.Error)) {
	r := o.s.st.Set(key, v)
	o.s.deliver(r.Events)
	if done != nil {
		done(r.Err)
	}
}

func (o ownCmap) Delete(key string, done func(cs.Error)) {
	r := o.s.st.Delete(key)
	o.s.deliver(r.Events)
	if done != nil {
		done(r.Err)
	}
}
