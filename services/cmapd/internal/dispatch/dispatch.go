// Package dispatch is cmap's library-handler table as a pure function:
// one client request's bytes in, the reply bytes and the tracker events it
// caused out, with corosync 3.1.7's behaviour for every message id. The
// daemon's IPC loop calls Request for each message of a connection and
// sends Reply on the response channel and every Outgoing on the event
// channel of its connection, in order.
package dispatch

import (
	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// Outgoing is an encoded NOTIFY_CALLBACK for a client connection.
type Outgoing struct {
	Conn store.ConnID
	Msg  []byte
}

// Result is what one request produced.
type Result struct {
	Reply []byte
	// Notify are the events for client connections, in change order.
	Notify []Outgoing
	// Internal are the events of the daemon's own trackers (Conn ==
	// store.Internal), e.g. totem.config_version for cfgver.
	Internal []store.Event
	// Clear is set when the client asked to clear statistics.
	Clear store.StatsClear
	// Err says why the request could not be decoded; the reply is then
	// corosync's generic CS_ERR_INVALID_PARAM (id 0, 24 bytes).
	Err error
}

// Request handles one whole request (libqb header included) from client
// connection c.
func Request(s *store.Store, c store.ConnID, msg []byte) Result {
	req, err := cmapwire.DecodeRequest(msg)
	if err != nil {
		return Result{Reply: cmapwire.GenericError(cs.ErrInvalidParam), Err: err}
	}
	var r Result
	var sr store.Result
	switch q := req.(type) {
	case cmapwire.Set:
		sr = s.ClientSet(c, q.Key, q.Type, q.Value)
		r.Reply = cmapwire.EncodeStatus(cmapwire.ResSet, sr.Err)
	case cmapwire.Delete:
		sr = s.ClientDelete(c, q.Key)
		r.Reply = cmapwire.EncodeStatus(cmapwire.ResDelete, sr.Err)
	case cmapwire.AdjustInt:
		sr = s.ClientAdjust(c, q.Key, q.Step)
		r.Reply = cmapwire.EncodeStatus(cmapwire.ResAdjustInt, sr.Err)
	case cmapwire.Get:
		v, err := s.ClientGet(c, q.Key)
		r.Reply = cmapwire.EncodeGet(q.BufLen, v, err)
	case cmapwire.IterInit:
		h, err := s.IterInit(c, q.Prefix)
		r.Reply = cmapwire.EncodeHandle(cmapwire.ResIterInit, h, err)
	case cmapwire.IterNext:
		e, err := s.IterNext(c, q.Iter)
		r.Reply = cmapwire.EncodeIterNext(cmapwire.IterEntry{Key: e.Key, Len: e.Len, Type: e.Type}, err)
	case cmapwire.IterFinalize:
		r.Reply = cmapwire.EncodeStatus(cmapwire.ResIterFinalize, s.IterFinalize(c, q.Iter))
	case cmapwire.TrackAdd:
		h, err := s.TrackAdd(c, q.Key, q.Flags, q.Cookie)
		r.Reply = cmapwire.EncodeHandle(cmapwire.ResTrackAdd, h, err)
	case cmapwire.TrackDelete:
		cookie, err := s.TrackDelete(c, q.Track)
		r.Reply = cmapwire.EncodeHandle(cmapwire.ResTrackDelete, cookie, err)
	case cmapwire.SetCurrentMap:
		r.Reply = cmapwire.EncodeStatus(cmapwire.ResSetCurrentMap, s.SetCurrentMap(c, store.MapID(q.Map)))
	}
	r.Notify, r.Internal = Events(sr.Events)
	r.Clear = sr.Clear
	return r
}

// Events encodes store events for their client connections and hands back
// the daemon's own separately. Changes the daemon makes (bus writes,
// reload, membership) go through here too.
func Events(evs []store.Event) (clients []Outgoing, internal []store.Event) {
	for _, e := range evs {
		if e.Conn == store.Internal {
			internal = append(internal, e)
			continue
		}
		n := cmapwire.Notify{Cookie: e.Cookie, Key: e.Key, Event: e.Kind, New: e.New, Old: e.Old}
		clients = append(clients, Outgoing{Conn: e.Conn, Msg: n.Encode()})
	}
	return clients, internal
}
