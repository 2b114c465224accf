package sim

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// describeFrame renders the fields of a W3 Totem frame (spec/totem.md §3–4)
// that matter when reading a trace. It reads the wire format itself, so a
// trace shows what was really sent even if the core's decoder is wrong.
func describeFrame(f []byte) string {
	if len(f) < 13 {
		return fmt.Sprintf("short frame (%d bytes)", len(f))
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if f[0] == 0xC0 && f[1] == 0x70 {
		bo = binary.BigEndian
	}
	u32 := func(off int) uint32 {
		if off+4 > len(f) {
			return 0
		}
		return bo.Uint32(f[off:])
	}
	ring := func(off int) string {
		if off+12 > len(f) {
			return "?"
		}
		return fmtRing(srp.RingID{Rep: srp.NodeID(bo.Uint32(f[off:])), Seq: bo.Uint64(f[off+4:])})
	}
	from := u32(5)
	switch f[3] {
	case 0:
		return fmt.Sprintf("TOKEN via n%d ring=%s seq=%d tseq=%d aru=%d/n%d fcc=%d backlog=%d retrans=%d rtr=%d",
			from, ring(29), u32(13), u32(17), u32(21), u32(25), u32(45), u32(41), u32(49), u32(53))
	case 1:
		s := fmt.Sprintf("MCAST n%d ring=%s seq=%d len=%d", from, ring(25), u32(17), len(f))
		if f[4] == 1 && len(f) >= 90 {
			s += fmt.Sprintf(" [old n%d ring=%s seq=%d]", u32(45+5), ring(45+25), u32(45+17))
		}
		return s
	case 2:
		return fmt.Sprintf("MERGE n%d ring=%s", from, ring(17))
	case 3:
		p, fl := u32(17), u32(21)
		name := "JOIN"
		if from == 0 {
			name = "LEAVE"
		}
		var ring uint64
		if len(f) >= 33 {
			ring = bo.Uint64(f[25:])
		}
		return fmt.Sprintf("%s n%d ringseq=%x proc=%s failed=%s", name, u32(13), ring, idList(f, bo, 33, p), idList(f, bo, 33+4*int(p), fl))
	case 4:
		n := u32(37)
		var entries strings.Builder
		for i := 0; i < int(n) && i < 384; i++ {
			off := 41 + 4*int(n) + 24*i
			if off+24 > len(f) {
				break
			}
			fmt.Fprintf(&entries, " {%s aru=%d hd=%d rf=%d}", ring(off), u32(off+12), u32(off+16), u32(off+20))
		}
		return fmt.Sprintf("COMMIT via n%d ring=%s tseq=%d idx=%d/%d members=%s%s",
			from, ring(17), u32(13), u32(33), n, idList(f, bo, 41, n), entries.String())
	case 5:
		return fmt.Sprintf("HOLDCANCEL n%d ring=%s", from, ring(13))
	}
	return fmt.Sprintf("frame type %d from n%d", f[3], from)
}

func idList(f []byte, bo binary.ByteOrder, off int, n uint32) string {
	if n > 384 || off+4*int(n) > len(f) {
		return "?"
	}
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < int(n); i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, bo.Uint32(f[off+4*i:]))
	}
	b.WriteByte(']')
	return b.String()
}

func stateName(s srp.State) string {
	switch s {
	case srp.Operational:
		return "OPER"
	case srp.Gather:
		return "GATH"
	case srp.Commit:
		return "COMM"
	case srp.Recovery:
		return "RECO"
	}
	return fmt.Sprintf("S%d", s)
}

func describeConf(cc *srp.ConfChange) string {
	if cc.Type == srp.Transitional {
		return fmt.Sprintf("CONF trans ring=%s members=%v left=%v", fmtRing(cc.Ring), cc.Members, cc.Left)
	}
	return fmt.Sprintf("CONF regular ring=%s members=%v joined=%v", fmtRing(cc.Ring), cc.Members, cc.Joined)
}
