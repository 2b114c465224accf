package daemon

import (
	"encoding/binary"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/cmapd/busreq"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
	"github.com/needle-cluster/needle/services/cmapd/value"
	"github.com/needle-cluster/needle/services/cmapd/wire"
)

// execBatch runs a bus request batch (format in package busreq) with the
// daemon's rights and returns the batch status and the replies.
func (d *Daemon) execBatch(payload []byte) (cs.Error, []byte) {
	msgs, err := busreq.Split(payload, wire.ReqHeaderSize)
	if err != nil {
		d.log.Warn("bus request refused", "error", err)
		return cs.ErrInvalidParam, nil
	}
	status := cs.OK
	onStats := false
	var out []byte
	for _, m := range msgs {
		st, reply := d.execOne(m, &onStats)
		if status == cs.OK && st != cs.OK {
			status = st
		}
		out = append(out, reply...)
	}
	return status, out
}

func (d *Daemon) execOne(m []byte, onStats *bool) (cs.Error, []byte) {
	if int32(binary.NativeEndian.Uint32(m)) == busreq.ReqReload {
		st, log := d.reload("bus request")
		return st, busreq.ReloadReply(st, log)
	}
	req, err := wire.DecodeRequest(m)
	if err != nil {
		d.log.Warn("bus request refused", "error", err)
		return cs.ErrInvalidParam, wire.GenericError(cs.ErrInvalidParam)
	}
	switch q := req.(type) {
	case wire.SetCurrentMap:
		st := cs.OK
		switch store.MapID(q.Map) {
		case store.MapIcmap:
			*onStats = false
		case store.MapStats:
			*onStats = true
		default:
			st = cs.ErrNotExist
		}
		return st, wire.EncodeStatus(wire.ResSetCurrentMap, st)
	case wire.Set:
		if *onStats {
			v, st := value.New(q.Type, q.Value)
			if st == cs.OK {
				d.deliver(d.st.PutStat(q.Key, v))
			}
			return st, wire.EncodeStatus(wire.ResSet, st)
		}
		r := d.st.Set(q.Key, value.Value{Type: q.Type, Data: q.Value})
		d.deliver(r.Events)
		return r.Err, wire.EncodeStatus(wire.ResSet, r.Err)
	case wire.Delete:
		if *onStats {
			st := cs.OK
			if _, ok := d.st.Stat(q.Key); !ok {
				st = cs.ErrNotExist
			}
			d.deliver(d.st.RemoveStat(q.Key))
			return st, wire.EncodeStatus(wire.ResDelete, st)
		}
		r := d.st.Delete(q.Key)
		d.deliver(r.Events)
		return r.Err, wire.EncodeStatus(wire.ResDelete, r.Err)
	case wire.AdjustInt:
		if *onStats {
			return cs.ErrNotSupported, wire.EncodeStatus(wire.ResAdjustInt, cs.ErrNotSupported)
		}
		r := d.st.Adjust(q.Key, q.Step)
		d.deliver(r.Events)
		return r.Err, wire.EncodeStatus(wire.ResAdjustInt, r.Err)
	case wire.Get:
		var v value.Value
		var ok bool
		if *onStats {
			v, ok = d.st.Stat(q.Key)
		} else {
			v, ok = d.st.Get(q.Key)
		}
		st := cs.OK
		if !ok {
			st = cs.ErrNotExist
		}
		return st, wire.EncodeGet(q.BufLen, v, st)
	}
	return cs.ErrNotSupported, wire.GenericError(cs.ErrNotSupported)
}
