package coroconf

import (
	"fmt"
	"math"
	"time"

	cval "github.com/needle-cluster/needle/libs/corotypes/value"
)

// Timer defaults of corosync 3.1.7 (totemconfig.c), in ms unless noted.
const (
	defaultTokenRBL        = 4
	defaultToken           = 3000
	defaultTokenWarning    = 75 // percent
	defaultTokenCoeff      = 650
	defaultJoin            = 50
	defaultMerge           = 200
	defaultDowncheck       = 1000
	defaultFailRecvConst   = 2500
	defaultSeqnoUnchanged  = 30
	defaultMaxNetworkDelay = 50
	defaultWindowSize      = 50
	defaultMaxMessages     = 17
	defaultMissCountConst  = 5
	defaultKnetPMTUD       = 30 // seconds
	minimumTimeout         = 30 // 3 × 1000/HZ
	minimumHoldTimeout     = 14 // int(30 × 0.8 − 1000/HZ)
	hzTick                 = 10 // 1000/HZ
)

// cInt converts like a C (int) cast on x86-64: truncation, and INT_MIN
// for values that do not fit.
func cInt(x float64) int32 {
	if math.IsNaN(x) || x >= 1<<31 || x <= -(1<<31)-1 {
		return math.MinInt32
	}
	return int32(x)
}

// setU32 reads a u32 totem key with its default (missing, or 0 when zero
// is not allowed) and publishes the effective value under runtime.config.
func (r *totemReader) setU32(name string, def uint32, allowZero bool) uint32 {
	key := "totem." + name
	v, ok := r.m.u32(key)
	if !ok || (!allowZero && v == 0) {
		v = def
	}
	r.ms[name] = v
	r.m["runtime.config."+key] = cval.U32(v)
	return v
}

func (r *totemReader) setBool(name string, def uint32) {
	key := "totem." + name
	v := def
	if s, ok := r.m.str(key); ok {
		switch s {
		case "yes":
			v = 1
		case "no":
			v = 0
		}
	}
	r.ms[name] = v
	r.m["runtime.config."+key] = cval.U32(v)
}

// readTimers applies defaults and derivations in Corosync's order
// (totem_volatile_config_read).
func (r *totemReader) readTimers() {
	m := r.m
	rbl := r.setU32("token_retransmits_before_loss_const", defaultTokenRBL, false)
	token := r.setU32("token", defaultToken, false)
	r.setU32("token_warning", defaultTokenWarning, true)
	if n := len(r.links[0].members); n > 2 {
		coeff := uint32(defaultTokenCoeff)
		if v, ok := m.u32("totem.token_coefficient"); ok {
			coeff = v
		}
		token += uint32(n-2) * coeff
		r.ms["token"] = token
		m["runtime.config.totem.token"] = cval.U32(token)
	}
	r.setU32("max_network_delay", defaultMaxNetworkDelay, false)
	r.setU32("window_size", defaultWindowSize, false)
	r.setU32("max_messages", defaultMaxMessages, false)
	r.setU32("miss_count_const", defaultMissCountConst, false)
	r.setU32("knet_pmtud_interval", defaultKnetPMTUD, false)
	r.setU32("knet_mtu", 0, false)
	retrans := r.setU32("token_retransmit", uint32(cInt(float64(token)/(float64(rbl)+0.2))), false)
	r.setU32("hold", uint32(cInt(float64(retrans)*0.8-hzTick)), false)
	r.setU32("join", defaultJoin, false)
	r.setU32("consensus", uint32(cInt(float64(float32(1.2*float64(token))))), false)
	r.setU32("merge", defaultMerge, false)
	r.setU32("downcheck", defaultDowncheck, false)
	r.setU32("fail_recv_const", defaultFailRecvConst, false)
	r.setU32("seqno_unchanged_const", defaultSeqnoUnchanged, false)
	r.setU32("send_join", 0, true)
	r.setU32("heartbeat_failures_allowed", 0, true)
	r.setU32("knet_compression_threshold", 0, true)

	level := int32(0)
	if v, ok := m["totem.knet_compression_level"]; ok && v.Type == cval.Int32 {
		i, _ := v.AsInt()
		level = int32(i)
	}
	r.t.Timers.KnetCompressionLevel = level
	m["runtime.config.totem.knet_compression_level"] = cval.I32(level)
	model := "none"
	if s, ok := m.str("totem.knet_compression_model"); ok {
		model = s
	}
	r.t.Timers.KnetCompressionModel = model
	m["runtime.config.totem.knet_compression_model"] = cval.Str(model)

	r.setBool("block_unlisted_ips", 1)
	r.setBool("cancel_token_hold_on_retransmit", 0)
}

// knetPingTimers derives knet ping interval/timeout from the token and
// publishes them (for every configured link, whatever the transport).
func (r *totemReader) knetPingTimers() {
	token := r.ms["token"]
	for i := range r.links {
		l := &r.links[i]
		if !l.configured {
			continue
		}
		if l.pongCount == 0 {
			l.pongCount = 2
		}
		if l.pingTimeout == 0 {
			l.pingTimeout = token / l.pongCount
		}
		r.m[fmt.Sprintf("runtime.config.totem.interface.%d.knet_ping_timeout", i)] = cval.U32(l.pingTimeout)
		if l.pingInterval == 0 {
			l.pingInterval = token / (l.pongCount * 2)
		}
		r.m[fmt.Sprintf("runtime.config.totem.interface.%d.knet_ping_interval", i)] = cval.U32(l.pingInterval)
	}
}

func msDur(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }

// finish copies the reader's state into the exported Totem.
func (r *totemReader) finish() {
	t, ms := r.t, r.ms
	t.Timers.Token = msDur(ms["token"])
	t.Timers.TokenRetransmit = msDur(ms["token_retransmit"])
	t.Timers.Hold = msDur(ms["hold"])
	t.Timers.Join = msDur(ms["join"])
	t.Timers.SendJoin = msDur(ms["send_join"])
	t.Timers.Consensus = msDur(ms["consensus"])
	t.Timers.Merge = msDur(ms["merge"])
	t.Timers.Downcheck = msDur(ms["downcheck"])
	t.Timers.MaxNetworkDelay = msDur(ms["max_network_delay"])
	t.Timers.TokenWarningPercent = ms["token_warning"]
	t.Timers.TokenRetransmitsBeforeLoss = ms["token_retransmits_before_loss_const"]
	t.Timers.FailRecvConst = ms["fail_recv_const"]
	t.Timers.SeqnoUnchangedConst = ms["seqno_unchanged_const"]
	t.Timers.HeartbeatFailuresAllowed = ms["heartbeat_failures_allowed"]
	t.Timers.WindowSize = ms["window_size"]
	t.Timers.MaxMessages = ms["max_messages"]
	t.Timers.MissCountConst = ms["miss_count_const"]
	t.Timers.KnetPMTUDInterval = ms["knet_pmtud_interval"]
	t.Timers.KnetMTU = ms["knet_mtu"]
	t.Timers.KnetCompressionThreshold = ms["knet_compression_threshold"]
	t.Timers.BlockUnlistedIPs = ms["block_unlisted_ips"] == 1
	t.Timers.CancelTokenHoldOnRetransmit = ms["cancel_token_hold_on_retransmit"] == 1

	if v, ok := r.m.u32("nodelist.local_node_pos"); ok {
		t.LocalNodePos = int(v)
	}
	for i, l := range r.links {
		t.Links[i] = Link{
			Configured: l.configured, BindNet: l.bindnet, McastAddr: l.mcast, LocalAddr: l.local,
			Port: l.port, TTL: l.ttl, KnetLinkPriority: l.priority, KnetPingInterval: l.pingInterval,
			KnetPingTimeout: l.pingTimeout, KnetPingPrecision: l.precision, KnetPongCount: l.pongCount,
			KnetTransport: l.transport, Members: l.members,
		}
	}
	t.Nodes = nil
	for _, pos := range r.nodePositions() {
		n := Node{Pos: pos}
		n.ID, _ = r.m.u32(fmt.Sprintf("nodelist.node.%d.nodeid", pos))
		n.Name, _ = r.m.str(fmt.Sprintf("nodelist.node.%d.name", pos))
		for i := 0; i < MaxLinks; i++ {
			if s, ok := r.m.str(fmt.Sprintf("nodelist.node.%d.ring%d_addr", pos, i)); ok {
				n.Addrs[i], _ = r.env.resolve(s, t.IPVersion)
			}
		}
		t.Nodes = append(t.Nodes, n)
	}
	sortNodes(t.Nodes)
}
