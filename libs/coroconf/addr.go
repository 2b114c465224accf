package coroconf

import (
	"fmt"
	"net/netip"
)

// resolve picks one address for name the way totemip_parse does: only v4
// or only v6 for ipv4/ipv6, otherwise the first of the preferred family
// and else the first of the other one.
func (e Env) resolve(name, ipVersion string) (netip.Addr, bool) {
	if e.LookupHost == nil {
		return netip.Addr{}, false
	}
	addrs, err := e.LookupHost(name)
	if err != nil {
		return netip.Addr{}, false
	}
	var v4, v6 netip.Addr
	for _, a := range addrs {
		if a.Is4() && !v4.IsValid() {
			v4 = a
		}
		if !a.Is4() && !v6.IsValid() {
			v6 = a
		}
	}
	var pick netip.Addr
	switch ipVersion {
	case "ipv4":
		pick = v4
	case "ipv6":
		pick = v6
	case "ipv6-4":
		pick = v6
		if !pick.IsValid() {
			pick = v4
		}
	default: // ipv4-6
		pick = v4
		if !pick.IsValid() {
			pick = v6
		}
	}
	return pick, pick.IsValid()
}

// noNodeID is what Corosync's generate_nodeid returns on failure (-1).
const noNodeID = ^uint32(0)

// generateNodeID derives a node id from an IPv4 ring0 address: its four
// bytes big-endian, top bit cleared with clear_node_high_bit.
func (e Env) generateNodeID(addr string, clearHighBit bool) uint32 {
	a, ok := e.resolve(addr, "ipv4")
	if !ok {
		return noNodeID
	}
	b := a.As4()
	id := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if clearHighBit {
		id &= 0x7FFFFFFF
	}
	return id
}

// clusterMcastAddr generates the multicast address of a link from the
// cluster name (config.md §6.4; note "mod 255").
func clusterMcastAddr(clusterName string, link uint32, ipv6 bool) netip.Addr {
	var v int32
	for i := 0; i < len(clusterName); i++ {
		v = v<<1 + int32(int8(clusterName[i]))
	}
	id := uint16(uint32(v)&0xFFFF) + uint16(link)
	var s string
	if ipv6 {
		s = fmt.Sprintf("ff15::%x", id)
	} else {
		s = fmt.Sprintf("239.192.%d.%d", id>>8, id%0xFF)
	}
	a, _ := netip.ParseAddr(s)
	return a
}

// scanUint reads a C "%u" conversion: blanks, optional sign, digits
// (value modulo 2^32). It returns the rest of s.
func scanUint(s string) (uint32, string, bool) {
	mag, neg, n, overflow := scanDigits(s)
	if n == 0 {
		return 0, s, false
	}
	if overflow {
		mag = ^uint64(0)
	}
	if neg {
		mag = -mag
	}
	return uint32(mag), s[n:], true
}

// scanWord reads a C "%s" conversion: a non-empty run of non-space bytes.
func scanWord(s string) (string, bool) {
	i := 0
	for i < len(s) && cSpace(s[i]) {
		i++
	}
	j := i
	for j < len(s) && !cSpace(s[j]) {
		j++
	}
	return s[i:j], j > i
}

// scanNodeKey splits "nodelist.node.%u.%s"; n tells how many conversions
// matched, like sscanf's result.
func scanNodeKey(key string) (pos uint32, rest string, n int) {
	const prefix = "nodelist.node."
	if len(key) < len(prefix) || key[:len(prefix)] != prefix {
		return 0, "", 0
	}
	pos, tail, ok := scanUint(key[len(prefix):])
	if !ok {
		return 0, "", 0
	}
	if len(tail) == 0 || tail[0] != '.' {
		return pos, "", 1
	}
	rest, ok = scanWord(tail[1:])
	if !ok {
		return pos, "", 1
	}
	return pos, rest, 2
}

// scanRingKey parses the tail of "nodelist.node.%u.ring%u%s" and reports
// the link number of a ringX_addr key.
func scanRingKey(key string) (link uint32, ok bool) {
	_, rest, n := scanNodeKey(key)
	if n != 2 || len(rest) < 4 || rest[:4] != "ring" {
		return 0, false
	}
	link, tail, ok := scanUint(rest[4:])
	if !ok {
		return 0, false
	}
	word, ok := scanWord(tail)
	return link, ok && word == "_addr"
}

// cAtoi is atoi: strtol clamped to the long range, then truncated to int.
func cAtoi(s string) int32 {
	mag, neg, n, overflow := scanDigits(s)
	if n == 0 {
		return 0
	}
	var v int64
	switch {
	case !neg && (overflow || mag > 1<<63-1):
		v = 1<<63 - 1
	case neg && (overflow || mag > 1<<63):
		v = -1 << 63
	case neg:
		v = -int64(mag-1) - 1
	default:
		v = int64(mag)
	}
	return int32(v)
}
