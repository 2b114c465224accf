package daemon

import (
	"encoding/binary"

	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// BusRequest answers a request another daemon sent through totemd.
func (s *service) BusRequest(from uint16, payload []byte) (cs.Error, []byte) {
	return s.execBatch(from, payload)
}

// execBatch runs a bus request batch (format in package cmapreq) with the
// daemon's rights and returns the batch status and the replies.
func (s *service) execBatch(from uint16, payload []byte) (cs.Error, []byte) {
	msgs, err := cmapreq.Split(payload, cmapwire.ReqHeaderSize)
	if err != nil {
		s.log.Warn("bus request refused", "error", err)
		return cs.ErrInvalidParam, nil
	}
	status := cs.OK
	onStats := false
	var out []byte
	for _, m := range msgs {
		st, reply := s.execOne(from, m, &onStats)
		if status == cs.OK && st != cs.OK {
			status = st
		}
		out = append(out, reply...)
	}
	return status, out
}

func (s *service) execOne(from uint16, m []byte, onStats *bool) (cs.Error, []byte) {
	switch int32(binary.NativeEndian.Uint32(m)) {
	case cmapreq.ReqReload:
		st, log := s.reload("bus request")
		return st, cmapreq.ReloadReply(st, log)
	case cmapreq.ReqTrack:
		return s.tracks.track(from, m)
	}
	req, err := cmapwire.DecodeRequest(m)
	if err != nil {
		s.log.Warn("bus request refused", "error", err)
		return cs.ErrInvalidParam, cmapwire.GenericError(cs.ErrInvalidParam)
	}
	switch q := req.(type) {
	case cmapwire.SetCurrentMap:
		st := cs.OK
		switch store.MapID(q.Map) {
		case store.MapIcmap:
			*onStats = false
		case store.MapStats:
			*onStats = true
		default:
			st = cs.ErrNotExist
		}
		return st, cmapwire.EncodeStatus(cmapwire.ResSetCurrentMap, st)
	case cmapwire.Set:
		if *onStats {
			v, st := value.New(q.Type, q.Value)
			if st == cs.OK {
				s.deliver(s.st.PutStat(q.Key, v))
			}
			return st, cmapwire.EncodeStatus(cmapwire.ResSet, st)
		}
		r := s.st.Set(q.Key, value.Value{Type: q.Type, Data: q.Value})
		s.deliver(r.Events)
		return r.Err, cmapwire.EncodeStatus(cmapwire.ResSet, r.Err)
	case cmapwire.Delete:
		if *onStats {
			st := cs.OK
			if _, ok := s.st.Stat(q.Key); !ok {
				st = cs.ErrNotExist
			}
			s.deliver(s.st.RemoveStat(q.Key))
			return st, cmapwire.EncodeStatus(cmapwire.ResDelete, st)
		}
		r := s.st.Delete(q.Key)
		s.deliver(r.Events)
		return r.Err, cmapwire.EncodeStatus(cmapwire.ResDelete, r.Err)
	case cmapwire.AdjustInt:
		if *onStats {
			return cs.ErrNotSupported, cmapwire.EncodeStatus(cmapwire.ResAdjustInt, cs.ErrNotSupported)
		}
		r := s.st.Adjust(q.Key, q.Step)
		s.deliver(r.Events)
		return r.Err, cmapwire.EncodeStatus(cmapwire.ResAdjustInt, r.Err)
	case cmapwire.Get:
		var v value.Value
		var ok bool
		if *onStats {
			v, ok = s.st.Stat(q.Key)
		} else {
			v, ok = s.st.Get(q.Key)
		}
		st := cs.OK
		if !ok {
			st = cs.ErrNotExist
		}
		return st, cmapwire.EncodeGet(q.BufLen, v, st)
	}
	return cs.ErrNotSupported, cmapwire.GenericError(cs.ErrNotSupported)
}
