package qbipc

import (
	"fmt"
	"os"
)

// The encoded state of a Parked, little-endian, every field fixed-size or
// length-prefixed, nothing optional, so that each state has exactly one
// encoding:
//
//	"QBPK" version(u8)=1
//	id(u64) pid(i32) uid(u32) gid(u32) max_msg(u32) transport(u8)
//	service(str) dir(str)
//	requests responses events send_retries fc_count (u64 each) fc_level(i32)
//	SHM:    credits(u32) owed(u32)
//	Socket: flags(u8: 1 request socket connected, 2 event socket connected)
//	events(u32), each: length(u32) bytes
//
// where str is a u16 length and the bytes. The files follow the state's
// transport: shmFiles or sockFiles of them, the setup socket first.
const (
	parkedMagic   = "QBPK"
	parkedVersion = 1

	flagReqConnected = 1
	flagEvConnected  = 2
)

// Encode returns the state as bytes and the descriptors, in the order
// DecodeParked expects: the setup socket, then 6 ring files (SHM) or the
// control file and 2 datagram sockets (Socket). The files remain p's:
// send them, then Close p.
func (p *Parked) Encode() (state []byte, files []*os.File, err error) {
	if p.files == nil {
		return nil, nil, fmt.Errorf("qbipc: encode parked connection %d: closed or adopted already", p.ID)
	}
	if err := p.validate(); err != nil {
		return nil, nil, fmt.Errorf("qbipc: encode parked connection %d: %w", p.ID, err)
	}
	return p.appendState(nil), p.files, nil
}

// appendState appends p's encoding to b, valid or not (tests encode
// invalid states through it).
func (p *Parked) appendState(b []byte) []byte {
	b = append(append(b, parkedMagic...), parkedVersion)
	b = le.AppendUint64(b, p.ID)
	b = le.AppendUint32(b, uint32(p.Creds.PID))
	b = le.AppendUint32(b, p.Creds.UID)
	b = le.AppendUint32(b, p.Creds.GID)
	b = le.AppendUint32(b, uint32(p.MaxMsg))
	b = append(b, byte(p.Transport))
	b = appendStr(b, p.service)
	b = appendStr(b, p.tr.dir)
	for _, v := range []uint64{p.Stats.Requests, p.Stats.Responses, p.Stats.Events, p.Stats.SendRetries, p.Stats.FlowControlCount} {
		b = le.AppendUint64(b, v)
	}
	b = le.AppendUint32(b, uint32(p.Stats.FlowControl))
	if p.Transport == SHM {
		b = le.AppendUint32(b, uint32(p.tr.credits))
		b = le.AppendUint32(b, uint32(p.tr.owed))
	} else {
		var flags byte
		if p.tr.reqConnected {
			flags |= flagReqConnected
		}
		if p.tr.evConnected {
			flags |= flagEvConnected
		}
		b = append(b, flags)
	}
	b = le.AppendUint32(b, uint32(len(p.events)))
	for _, ev := range p.events {
		b = le.AppendUint32(b, uint32(len(ev)))
		b = append(b, ev...)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = le.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// DecodeParked rebuilds a Parked from Encode's output (files: exactly the
// ones Encode returned, in order, e.g. as received with SCM_RIGHTS). It
// takes ownership of the files: on error it closes them. Every field is
// checked, and each file's kind (a unix stream socket, regular files,
// datagram sockets); errors name what is wrong. Whether the files are the
// ones the state describes is checked when Listen adopts them.
func DecodeParked(state []byte, files []*os.File) (_ *Parked, err error) {
	defer func() {
		if err != nil {
			closeFiles(files)
			err = fmt.Errorf("qbipc: decode parked connection: %w", err)
		}
	}()
	d := &decoder{b: state}
	if m := d.take(len(parkedMagic), "magic"); d.err == nil && string(m) != parkedMagic {
		return nil, fmt.Errorf("magic %q, want %q", m, parkedMagic)
	}
	if v := d.u8("version"); d.err == nil && v != parkedVersion {
		return nil, fmt.Errorf("version %d, want %d", v, parkedVersion)
	}
	p := &Parked{ID: d.u64("id")}
	p.Creds = Creds{PID: int32(d.u32("pid")), UID: d.u32("uid"), GID: d.u32("gid")}
	p.MaxMsg = int(d.u32("max_msg_size"))
	p.Transport = Transport(d.u8("transport"))
	p.service = d.str("service")
	p.tr.dir = d.str("directory")
	p.Stats.Requests = d.u64("requests")
	p.Stats.Responses = d.u64("responses")
	p.Stats.Events = d.u64("events")
	p.Stats.SendRetries = d.u64("send retries")
	p.Stats.FlowControlCount = d.u64("flow-control count")
	p.Stats.FlowControl = int32(d.u32("flow-control level"))
	switch p.Transport {
	case SHM:
		p.tr.credits = int(d.u32("notification credits"))
		p.tr.owed = int(d.u32("owed notifications"))
	case Socket:
		flags := d.u8("socket flags")
		if d.err == nil && flags&^(flagReqConnected|flagEvConnected) != 0 {
			return nil, fmt.Errorf("socket flags %#x: unknown bits", flags)
		}
		p.tr.reqConnected, p.tr.evConnected = flags&flagReqConnected != 0, flags&flagEvConnected != 0
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := p.validate(); err != nil { // before the events, which depend on max_msg_size
		return nil, err
	}
	if p.events, err = d.events(p.MaxMsg); err != nil {
		return nil, err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last event", len(d.b))
	}
	for _, ev := range p.events {
		p.Stats.EventsQueued++
		p.Stats.EventsQueuedBytes += eventCost(ev)
	}
	if err := checkFiles(p.Transport, files); err != nil {
		return nil, err
	}
	p.files = files
	return p, nil
}

// decoder reads fields off b; after the first failure every read returns
// zero and err names the first field that did not fit.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = fmt.Errorf("%s: %d bytes needed, %d left", what, n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8(what string) byte {
	if b := d.take(1, what); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if b := d.take(2, what); b != nil {
		return le.Uint16(b)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if b := d.take(4, what); b != nil {
		return le.Uint32(b)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if b := d.take(8, what); b != nil {
		return le.Uint64(b)
	}
	return 0
}

func (d *decoder) str(what string) string {
	return string(d.take(int(d.u16(what+" length")), what))
}

// events reads the queued events, each a copy of its own (a queue entry
// is accounted at its capacity), checked as Conn.SendEvent would.
func (d *decoder) events(maxMsg int) ([][]byte, error) {
	n := d.u32("event count")
	if d.err != nil {
		return nil, d.err
	}
	if uint64(n)*(4+RespHeaderSize) > uint64(len(d.b)) { // bounds the allocation below
		return nil, fmt.Errorf("event count %d: more than the %d bytes left can hold", n, len(d.b))
	}
	evs := make([][]byte, 0, n)
	for i := range n {
		size := d.u32("event length")
		if d.err == nil && (size < RespHeaderSize || size > uint32(maxMsg)) {
			return nil, fmt.Errorf("event %d: %d bytes, not in %d..%d", i, size, RespHeaderSize, maxMsg)
		}
		ev := d.take(int(size), "event")
		if d.err != nil {
			return nil, fmt.Errorf("event %d: %w", i, d.err)
		}
		if h := le.Uint32(ev[8:]); h != size {
			return nil, fmt.Errorf("event %d: header size %d, but %d bytes", i, h, size)
		}
		evs = append(evs, append(make([]byte, 0, size), ev...))
	}
	return evs, nil
}
