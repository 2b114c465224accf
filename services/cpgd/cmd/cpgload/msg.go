package main

import (
	"encoding/binary"
	"fmt"
)

// A load message: a 32-byte header then filler up to the configured size.
//
//	@0  u32 magic "CPGL"
//	@4  u32 kind (kindData, kindEnd)
//	@8  u64 seq: per-sender number of a data message, from 0
//	@16 i64 send time, Unix ns (wall clock: every node of a test cluster
//	    shares the host's clock, so latencies across nodes are comparable)
//	@24 u64 END: how many data messages the sender sent
const (
	msgHeader = 32
	magic     = 0x4c475043 // "CPGL" little-endian
	kindData  = 1
	kindEnd   = 2
)

var le = binary.LittleEndian

type loadMsg struct {
	kind uint32
	seq  uint64
	sent int64
	end  uint64
}

func (m loadMsg) put(b []byte) {
	le.PutUint32(b[0:], magic)
	le.PutUint32(b[4:], m.kind)
	le.PutUint64(b[8:], m.seq)
	le.PutUint64(b[16:], uint64(m.sent))
	le.PutUint64(b[24:], m.end)
}

func parseMsg(b []byte) (loadMsg, error) {
	if len(b) < msgHeader {
		return loadMsg{}, fmt.Errorf("load message of %d bytes, shorter than its %d-byte header", len(b), msgHeader)
	}
	if le.Uint32(b) != magic {
		return loadMsg{}, fmt.Errorf("load message: bad magic %#x", le.Uint32(b))
	}
	m := loadMsg{kind: le.Uint32(b[4:]), seq: le.Uint64(b[8:]), sent: int64(le.Uint64(b[16:])), end: le.Uint64(b[24:])}
	if m.kind != kindData && m.kind != kindEnd {
		return loadMsg{}, fmt.Errorf("load message: kind %d", m.kind)
	}
	return m, nil
}
