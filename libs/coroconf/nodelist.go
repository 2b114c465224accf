package coroconf

import (
	"fmt"
	"strings"

	cval "github.com/needle-cluster/needle/libs/corotypes/value"
)

// nodelistByName returns the position of the first node (in key order)
// whose name or ring0_addr equals find — compared with its domain removed
// when stripDomain — or -1.
func (r *totemReader) nodelistByName(find string, stripDomain bool) int64 {
	for _, k := range r.m.KeysWithPrefix("nodelist.node.") {
		pos, rest, n := scanNodeKey(k)
		if n != 2 || (rest != "name" && rest != "ring0_addr") {
			continue
		}
		name, ok := r.m.str(k)
		if !ok {
			continue
		}
		if stripDomain {
			if i := strings.IndexByte(name, '.'); i >= 0 {
				name = name[:i]
			}
		}
		if name == find {
			return int64(pos)
		}
	}
	return -1
}

// findLocalNode locates this host in the nodelist (config.md §6.2) and
// records nodelist.local_node_pos; useCache returns a recorded position.
func (r *totemReader) findLocalNode(useCache bool) int64 {
	if useCache {
		if v, ok := r.m.u32("nodelist.local_node_pos"); ok {
			return int64(v)
		}
	}
	pos := r.searchLocalNode()
	if pos >= 0 {
		r.m["nodelist.local_node_pos"] = cval.U32(uint32(pos))
	}
	return pos
}

func (r *totemReader) searchLocalNode() int64 {
	node := r.env.Hostname
	if pos := r.nodelistByName(node, false); pos >= 0 {
		return pos
	}
	short := node
	for {
		i := strings.LastIndexByte(short, '.')
		if i < 0 {
			break
		}
		short = short[:i]
		if pos := r.nodelistByName(short, false); pos >= 0 {
			return pos
		}
	}
	if pos := r.nodelistByName(short, true); pos >= 0 {
		return pos
	}
	for _, a := range r.env.InterfaceAddrs {
		name := ""
		if r.env.LookupAddr != nil {
			name = r.env.LookupAddr(a)
		}
		if name == "" {
			name = a.String() // getnameinfo falls back to the numeric form
		}
		if pos := r.nodelistByName(name, false); pos >= 0 {
			return pos
		}
		if i := strings.IndexByte(name, '.'); i >= 0 {
			if pos := r.nodelistByName(name[:i], false); pos >= 0 {
				return pos
			}
		}
		// Corosync passes sizeof(struct sockaddr) here, so only IPv4
		// addresses get this numeric comparison.
		if a.Is4() {
			if pos := r.nodelistByName(a.String(), false); pos >= 0 {
				return pos
			}
		}
	}
	for _, k := range r.m.KeysWithPrefix("nodelist.node.") {
		pos, rest, n := scanNodeKey(k)
		if n != 2 || (rest != "name" && rest != "ring0_addr") {
			continue
		}
		name, ok := r.m.str(k)
		if !ok || r.env.LookupHost == nil {
			continue
		}
		addrs, err := r.env.LookupHost(name)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			for _, local := range r.env.InterfaceAddrs {
				if a.Unmap() == local.Unmap() && a.Is4() == local.Is4() {
					return int64(pos)
				}
			}
		}
	}
	return -1
}

// nodePositions returns each node position once, in key order.
func (r *totemReader) nodePositions() []uint32 {
	var out []uint32
	last := int64(-1)
	for _, k := range r.m.KeysWithPrefix("nodelist.node.") {
		pos, _, n := scanNodeKey(k)
		if n != 2 || int64(pos) == last {
			continue
		}
		last = int64(pos)
		out = append(out, pos)
	}
	return out
}

// nodelistMembers fills the links' member lists from the nodelist,
// generating udp/udpu node ids (put_nodelist_members_to_config).
func (r *totemReader) nodelistMembers() error {
	t, m := r.t, r.m
	for i := range r.links {
		r.links[i].members = nil
	}
	for _, pos := range r.nodePositions() {
		idKey := fmt.Sprintf("nodelist.node.%d.nodeid", pos)
		keys := m.KeysWithPrefix(fmt.Sprintf("nodelist.node.%d.", pos))
		for i := 0; i < len(keys); i++ {
			k := keys[i]
			nodeid, _ := m.u32(idKey)
			link, ok := scanRingKey(k)
			if !ok {
				continue
			}
			if link >= MaxLinks {
				return peError(fmt.Sprintf("interface ring number %d is bigger than allowed maximum %d", link, MaxLinks-1))
			}
			addr, ok := m.str(k)
			if !ok {
				continue
			}
			if nodeid == 0 && t.Transport != TransportKnet {
				if ring0, ok := m.str(fmt.Sprintf("nodelist.node.%d.ring0_addr", pos)); ok {
					nodeid = r.env.generateNodeID(ring0, t.ClearNodeHighBit)
					if nodeid == noNodeID {
						return configError("An IPV6 network requires that a node ID be specified for address '" + addr + "'.")
					}
					if _, exists := m[idKey]; !exists && splitsCurrentNode(m, k, idKey) {
						// Corosync's trie iterator sees this key again.
						keys = append(keys[:i+1], keys[i:]...)
					}
					m[idKey] = cval.U32(nodeid)
				}
			}
			if nodeid == 0 && t.Transport == TransportKnet {
				return configError("Knet requires an explicit nodeid to be specified for address '" + addr + "'.")
			}
			if t.Transport == TransportKnet && nodeid >= KnetMaxNodeID {
				return configError(fmt.Sprintf("Knet requires nodeid to be less than %d for address '%s'.", KnetMaxNodeID, addr))
			}
			a, ok := r.env.resolve(addr, t.IPVersion)
			if !ok {
				return configError("failed to parse node address '" + addr + "'")
			}
			l := &r.links[link]
			l.members = append(l.members, Member{Addr: a, NodeID: nodeid})
			l.configured = true
		}
	}
	r.linkParams()
	return nil
}

// linkParams fills the local address and defaults of every configured link
// (configure_link_params).
func (r *totemReader) linkParams() {
	pos := r.findLocalNode(false)
	for i := range r.links {
		l := &r.links[i]
		if !l.configured {
			continue
		}
		s, ok := r.m.str(fmt.Sprintf("nodelist.node.%d.ring%d_addr", uint32(pos), i))
		if !ok {
			continue
		}
		a, ok := r.env.resolve(s, r.t.IPVersion)
		if !ok {
			continue
		}
		l.local = a
		if l.priority == 0 {
			l.priority = 1
		}
		if l.precision == 0 {
			l.precision = 2048
		}
		if l.pongCount == 0 {
			l.pongCount = 2
		}
		if l.transport == "" {
			l.transport = "udp"
		}
		if l.port == 0 {
			l.port = uint16(DefaultPort + i)
		}
	}
}

// checkDuplicateNodeIDs reproduces check_for_duplicate_nodeids, including
// its quirk of comparing only against earlier nodes in key order up to the
// first position that is not smaller (so 0 and 1 before 10, 11, …).
func (r *totemReader) checkDuplicateNodeIDs() error {
	m := r.m
	keys := m.KeysWithPrefix("nodelist.node.")
	last := int64(-1)
	for _, k := range keys {
		pos, _, n := scanNodeKey(k)
		if n != 2 || int64(pos) == last {
			continue
		}
		last = int64(pos)
		nodeid, ok := m.u32(fmt.Sprintf("nodelist.node.%d.nodeid", pos))
		auto, ring0 := false, ""
		if !ok {
			ring0, ok = m.str(fmt.Sprintf("nodelist.node.%d.ring0_addr", pos))
			if !ok {
				continue
			}
			nodeid = r.env.generateNodeID(ring0, r.t.ClearNodeHighBit)
			if nodeid == noNodeID {
				continue
			}
			auto = true
		}
		var pos1 uint32
		for _, k2 := range keys {
			if pos1 >= pos {
				break
			}
			p1, rest, n := scanNodeKey(k2)
			if n >= 1 {
				pos1 = p1
			}
			if n != 2 || pos1 >= pos || rest != "nodeid" {
				continue
			}
			id1, ok := m.u32(fmt.Sprintf("nodelist.node.%d.nodeid", pos1))
			if !ok || id1 != nodeid {
				continue
			}
			if auto {
				return configError(fmt.Sprintf("Nodeid %d(autogenerated from %s) appears twice in corosync.conf", nodeid, ring0))
			}
			return configError(fmt.Sprintf("Nodeid %d appears twice in corosync.conf", nodeid))
		}
	}
	return nil
}

// splitsCurrentNode reports whether inserting key into libqb's compressed
// trie splits the node that holds cur. Corosync iterates the nodelist with
// a trie iterator while it writes generated node ids back; when the insert
// splits the iterator's current node, the iterator visits cur a second
// time, so the address is added to the member list twice and the token
// scales as if there were more nodes [verified: two nodes without nodeid
// give runtime.config.totem.token 4300 and "adding new UDPU member" twice
// each; a node that also has a name key is not doubled]. The node of cur
// starts below its deepest branching point with any other key; the insert
// splits it when key leaves cur's path below that point.
func splitsCurrentNode(m Map, cur, key string) bool {
	branch := 0
	for other := range m {
		if other != cur {
			if n := commonPrefixLen(other, cur); n > branch {
				branch = n
			}
		}
	}
	return commonPrefixLen(key, cur) > branch
}

func commonPrefixLen(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
