package main

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	cmapclient "github.com/needle-cluster/needle/services/cmapd/client"
	qclient "github.com/needle-cluster/needle/services/quorumd/client"
)

// cmap value types the tool reads (cmap_value_types_t).
const (
	cmapU32    = 6
	cmapString = 11
)

// hostNameMax is _POSIX_HOST_NAME_MAX: the tool keeps at most 254 bytes
// of a nodelist name.
const hostNameMax = 255

// getString is cmap_get_string: the key must hold a string.
func (t *tool) getString(key string) (string, cs.Error) {
	v, err := t.cmap.Get(t.ctx, key)
	if err != nil {
		return "", cmapclient.Code(err)
	}
	if v.Type != cmapString {
		return "", cs.ErrInvalidParam
	}
	return strings.TrimRight(string(v.Data), "\x00"), cs.OK
}

// getU32 is cmap_get_uint32: the key must hold a u32.
func (t *tool) getU32(key string) (uint32, cs.Error) {
	v, err := t.cmap.Get(t.ctx, key)
	if err != nil {
		return 0, cmapclient.Code(err)
	}
	if v.Type != cmapU32 || len(v.Data) != 4 {
		return 0, cs.ErrInvalidParam
	}
	return uint32(v.Data[0]) | uint32(v.Data[1])<<8 | uint32(v.Data[2])<<16 | uint32(v.Data[3])<<24, cs.OK
}

// nameByNodelist is the tool's node_name_by_nodelist: the name: of the
// first nodelist.node.<n> whose nodeid is nodeid, "" if none.
func (t *tool) nameByNodelist(nodeid uint32) string {
	keys, err := t.cmap.Keys(t.ctx, "nodelist.node.")
	if err != nil && len(keys) == 0 {
		return ""
	}
	for _, e := range keys {
		rest, ok := strings.CutPrefix(e.Key, "nodelist.node.")
		if !ok {
			continue
		}
		pos, field, ok := strings.Cut(rest, ".")
		if !ok || field != "nodeid" {
			continue
		}
		n, err := strconv.ParseUint(pos, 10, 32)
		if err != nil {
			continue
		}
		id, st := t.getU32("nodelist.node." + strconv.FormatUint(n, 10) + ".nodeid")
		if st != cs.OK || id != nodeid {
			continue
		}
		name, st := t.getString("nodelist.node." + strconv.FormatUint(n, 10) + ".name")
		if st != cs.OK {
			continue
		}
		if len(name) > hostNameMax-1 {
			name = name[:hostNameMax-1]
		}
		return name
	}
	return ""
}

// nodeName is the tool's node_name: the nodelist name (unless -i), then
// the node's addresses from cfg — only the first one, or all with -a, the
// first being replaced by the name when there is one — resolved to host
// names (numeric with -i) and joined by ", ".
func (t *tool) nodeName(nodeid uint32) string {
	var b strings.Builder
	start := 0
	if !t.ipNames {
		if n := t.nameByNodelist(nodeid); n != "" {
			b.WriteString(n)
			start = 1
		}
	}
	addrs, err := t.cfg.nodeAddrs(t.ctx, nodeid)
	if err != nil {
		t.errf("Unable to get node address for nodeid %d: %s\n", nodeid, qclient.Code(err).Strerror())
		return ""
	}
	n := len(addrs)
	if !t.allAddrs {
		n = 1
	}
	for i := start; i < n; i++ {
		var a netip.Addr
		if i < len(addrs) {
			a = addrs[i]
		}
		if !a.IsValid() {
			continue
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.resolve(a))
	}
	return b.String()
}

// resolve is getnameinfo without a service: the host name the resolver
// (files, then DNS) gives for a, else the numeric form; -i asks for the
// numeric form directly.
func (t *tool) resolve(a netip.Addr) string {
	if t.ipNames {
		return a.String()
	}
	ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
	defer cancel()
	names, err := net.DefaultResolver.LookupAddr(ctx, a.String())
	if err != nil || len(names) == 0 {
		return a.String()
	}
	return strings.TrimSuffix(names[0], ".")
}
