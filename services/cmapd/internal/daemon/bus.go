package daemon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/svcid"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cmapd/internal/cfgver"
	"github.com/needle-cluster/needle/services/cmapd/internal/members"
)

// Attached starts a session: the node id, runtime.members brought in line
// with the current ring (cmapd may start, or restart, after the ring
// formed), and a hello to every other service so that those mirroring
// cmap track their prefixes again (this cmapd may be a new one).
func (s *service) Attached(h svchost.Host, a svchost.Attachment) {
	s.host, s.attached = h, true
	if s.ver == nil || s.nodeID != a.NodeID {
		s.ver = cfgver.New(a.NodeID)
	}
	s.nodeID = a.NodeID
	s.syncMembers(a.RingMembers)
	for id := uint16(svcid.Cfg); id <= svcid.Wd; id++ {
		h.Request(id, cmapreq.Hello(), nil)
	}
}

// Detached: totemd is gone; svchost reattaches.
func (s *service) Detached() { s.attached = false }

// syncMembers writes runtime.members.* so the joined ones are exactly
// ring.
func (s *service) syncMembers(ring []uint32) {
	var left, joined []uint32
	for _, k := range s.st.Keys("runtime.members.") {
		rest, ok := strings.CutSuffix(strings.TrimPrefix(k, "runtime.members."), ".status")
		if !ok {
			continue
		}
		id, err := strconv.ParseUint(rest, 10, 32)
		if err != nil {
			continue
		}
		if v, _ := s.st.Get(k); isStr(v, "joined") && !slices.Contains(ring, uint32(id)) {
			left = append(left, uint32(id))
		}
	}
	for _, id := range ring {
		if v, ok := s.st.Get(fmt.Sprintf("runtime.members.%d.status", id)); !ok || !isStr(v, "joined") {
			joined = append(joined, id)
		}
	}
	s.confChg(left, joined)
}

func isStr(v value.Value, want string) bool {
	x, ok := v.AsString()
	return ok && x == want
}

// ConfChg writes runtime.members.* for a ring change: corosync's
// runtime.members is the ring's membership, so the ring's members are
// used when totemd sends them, else the change's own lists.
func (s *service) ConfChg(c ipcproto.Conf) {
	if c.RingMembers != nil {
		s.syncMembers(c.RingMembers)
		return
	}
	s.confChg(c.Left, c.Joined)
}

func (s *service) confChg(left, joined []uint32) {
	js := make([]members.Joined, 0, len(joined))
	for _, id := range joined {
		js = append(js, members.Joined{NodeID: id, Addrs: s.nodeAddrs(id)})
	}
	s.apply(members.ConfChg(s.st, left, js))
}

// nodeAddrs finds a node's link addresses in the nodelist.
func (s *service) nodeAddrs(id uint32) []netip.Addr {
	for _, k := range s.st.Keys("nodelist.node.") {
		base, ok := strings.CutSuffix(k, ".nodeid")
		if !ok {
			continue
		}
		v, _ := s.st.Get(k)
		if n, ok := v.AsUint(); !ok || n != uint64(id) {
			if str, ok := v.AsString(); !ok || str != strconv.FormatUint(uint64(id), 10) {
				continue
			}
		}
		var addrs []netip.Addr
		for link := 0; link < 8; link++ {
			av, ok := s.st.Get(fmt.Sprintf("%s.ring%d_addr", base, link))
			if !ok {
				continue
			}
			for len(addrs) < link {
				addrs = append(addrs, netip.Addr{})
			}
			str, _ := av.AsString()
			addrs = append(addrs, resolve(str))
		}
		return addrs
	}
	return nil
}

func resolve(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if as, err := net.DefaultResolver.LookupNetIP(ctx, "ip", s); err == nil && len(as) > 0 {
		return as[0]
	}
	return netip.Addr{}
}

// Deliver handles a cmap ring message: the config_version exchange.
func (s *service) Deliver(from uint32, payload []byte, swapped bool) {
	if len(payload) < 4 || s.ver == nil {
		return
	}
	id := binary.NativeEndian.Uint32(payload)
	if swapped {
		id = bits.ReverseBytes32(id)
	}
	if id>>16 != serviceID || id&0xffff != cfgver.MsgID {
		return
	}
	s.deliver(s.st.FastAdjust("runtime.services.cmap.0.rx", 1).Events)
	key, v, ok, err := s.ver.Deliver(from, payload, swapped)
	if err != nil {
		s.log.Warn("ring message dropped", "error", err)
		return
	}
	if ok {
		s.deliver(s.st.Set(key, v).Events)
	}
}

// SyncInit starts cmap's sync round.
func (s *service) SyncInit(r svchost.SyncRound) {
	v, ok := s.st.Get(cfgver.Key)
	s.ver.SyncInit(r.Trans, r.Members, v, ok)
}

// SyncProcess multicasts this node's config_version; svchost reports the
// round done once the ring accepted it.
func (s *service) SyncProcess(svchost.SyncRound) bool {
	v, ok := s.st.Get(cfgver.Key)
	s.mcast(s.ver.SyncProcess(v, ok))
	return true
}

// SyncActivate ends the round; a config_version mismatch stops cmapd, as
// it stops corosync.
func (s *service) SyncActivate(svchost.SyncRound) {
	if stop, reason := s.ver.SyncActivate(); stop {
		s.log.Error(reason)
		s.host.Fatal(errors.New(reason))
	}
}

// SyncAbort cancels the round.
func (s *service) SyncAbort() {
	if s.ver != nil {
		s.ver.SyncAbort()
	}
}

// mcast sends a cmap ring message and counts it once the ring took it.
func (s *service) mcast(payload []byte) {
	s.host.Mcast(payload, func(st cs.Error) {
		if st == cs.OK {
			s.deliver(s.st.FastAdjust("runtime.services.cmap.0.tx", 1).Events)
		}
	})
}
