package coroconf

import (
	"fmt"
	"strconv"

	cval "github.com/needle-cluster/needle/libs/corotypes/value"
)

// context is the section context Corosync decides when a section starts,
// from its full path; unknown sections inherit their parent's context.
type sectionCtx int

const (
	ctxNormal sectionCtx = iota
	ctxTotem
	ctxInterface
	ctxLoggerSubsys
	ctxUIDGID
	ctxLoggingDaemon
	ctxMember
	ctxQuorum
	ctxQDevice
	ctxNodelist
	ctxNode
	ctxSystem
	ctxResources
	ctxResourcesSystem
	ctxResourcesProcess
	ctxResourcesSystemMemUsed
	ctxResourcesProcessMemUsed
)

// sectionContext returns the context an exact section path switches to.
func sectionContext(path string) (sectionCtx, bool) {
	switch path {
	case "totem":
		return ctxTotem, true
	case "totem.interface":
		return ctxInterface, true
	case "totem.interface.member":
		return ctxMember, true
	case "system":
		return ctxSystem, true
	case "logging.logger_subsys":
		return ctxLoggerSubsys, true
	case "logging.logging_daemon":
		return ctxLoggingDaemon, true
	case "uidgid":
		return ctxUIDGID, true
	case "quorum":
		return ctxQuorum, true
	case "quorum.device":
		return ctxQDevice, true
	case "nodelist":
		return ctxNodelist, true
	case "nodelist.node":
		return ctxNode, true
	case "resources":
		return ctxResources, true
	case "resources.system":
		return ctxResourcesSystem, true
	case "resources.system.memory_used":
		return ctxResourcesSystemMemUsed, true
	case "resources.process":
		return ctxResourcesProcess, true
	case "resources.process.memory_used":
		return ctxResourcesProcessMemUsed, true
	}
	return ctxNormal, false
}

// Typed keys, matched on the full path inside their context.

func isTotemU32Key(key string) bool {
	return oneOf(key, "version", "nodeid", "threads", "token", "token_coefficient", "token_retransmit",
		"token_warning", "hold", "token_retransmits_before_loss_const", "join", "send_join", "consensus",
		"merge", "downcheck", "fail_recv_const", "seqno_unchanged_const", "rrp_token_expired_timeout",
		"rrp_problem_count_timeout", "rrp_problem_count_threshold", "rrp_problem_count_mcast_threshold",
		"rrp_autorecovery_check_timeout", "heartbeat_failures_allowed", "max_network_delay", "window_size",
		"max_messages", "miss_count_const", "knet_pmtud_interval", "knet_mtu", "knet_compression_threshold",
		"netmtu")
}

func isQuorumU32Key(key string) bool {
	return oneOf(key, "expected_votes", "votes", "last_man_standing_window", "leaving_timeout")
}

func isQuorumU8Key(key string) bool {
	return oneOf(key, "two_node", "expected_votes_tracking", "allow_downscale", "wait_for_all", "auto_tie_breaker", "last_man_standing")
}

func isQDeviceU32Key(key string) bool { return oneOf(key, "timeout", "sync_timeout", "votes") }

// Models libknet 1.x reports on Debian 12 (corosync -v: "Available crypto
// models", "Available compression models"); Corosync builds its messages
// from these lists. "none" is not among them, so the 3.1.7 parser rejects
// knet_compression_model: none [verified].
func knetCryptoModels() []string { return []string{"nss", "openssl"} }

func knetCompressModels() []string {
	return []string{"zlib", "lz4", "lz4hc", "lzo2", "lzma", "bzip2", "zstd"}
}

type keyValue struct{ key, value string }

// mainHandler maps the main configuration file into cmap keys
// (config.md §5). Its fields are the block state Corosync keeps while an
// interface, logger_subsys or logging_daemon block is open.
type mainHandler struct {
	m    Map
	ids  IDResolver
	link int64
	// pointer-like optional strings of an interface block
	bindnetaddr, mcastaddr, broadcast, knetTransport *string
	// -1 means "not given"; stored as C int, so u32 values above
	// 2^31-1 turn negative and are dropped like in Corosync
	mcastport, ttl, linkPriority, pingInterval, pingTimeout, pingPrecision, pongCount int64
	// items of logger_subsys / logging_daemon / member blocks, newest first
	items      []keyValue
	members    []string
	subsys     *string
	daemonName *string
	nodeNumber uint32
}

func strp(s string) *string { return &s }

// truncKey mimics snprintf(buf, ICMAP_KEYNAME_MAXLEN, …): at most 254
// bytes survive [verified with corosync-cmapctl].
func truncKey(s string) string {
	if len(s) > keyNameMaxLen-1 {
		return s[:keyNameMaxLen-1]
	}
	return s
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// modelList joins names as "a, b or c".
func modelList(names []string) string {
	s := ""
	for i, n := range names {
		switch {
		case i == 0:
		case i == len(names)-1:
			s += " or "
		default:
			s += ", "
		}
		s += n
	}
	return s
}

func (h *mainHandler) sectionStart(path string, ctx *sectionCtx) error {
	c, ok := sectionContext(path)
	if !ok {
		return nil
	}
	*ctx = c
	switch c {
	case ctxInterface:
		h.link = 0
		h.mcastport, h.ttl, h.linkPriority = -1, -1, -1
		h.pingInterval, h.pingTimeout, h.pingPrecision, h.pongCount = -1, -1, -1, -1
		h.knetTransport = nil
		h.members = nil
	case ctxLoggerSubsys:
		h.items, h.subsys = nil, nil
	case ctxLoggingDaemon:
		h.items, h.subsys, h.daemonName = nil, nil, nil
	case ctxNodelist:
		h.nodeNumber = 0
	}
	return nil
}

// setTyped converts and stores a typed item.
func (h *mainHandler) setTyped(path, value string, t intType) error {
	v, err := t.convert(path, value)
	if err != nil {
		return err
	}
	return h.m.set(path, v)
}

func (h *mainHandler) item(path, key, value string, ctx *sectionCtx) error {
	switch *ctx {
	case ctxTotem:
		return h.totemItem(path, key, value)
	case ctxSystem:
		return h.systemItem(path, value)
	case ctxQuorum:
		switch {
		case path == "quorum."+key && isQuorumU32Key(key):
			return h.setTyped(path, value, tU32)
		case path == "quorum."+key && isQuorumU8Key(key):
			return h.setTyped(path, value, tU8)
		}
	case ctxQDevice:
		switch {
		case path == "quorum.device."+key && isQDeviceU32Key(key):
			return h.setTyped(path, value, tU32)
		case path == "quorum.device.master_wins":
			return h.setTyped(path, value, tU8)
		}
	case ctxInterface:
		return h.interfaceItem(path, value)
	case ctxLoggerSubsys:
		if key == "subsys" {
			h.subsys = strp(value)
		} else {
			h.items = append([]keyValue{{key, value}}, h.items...)
		}
		return nil
	case ctxLoggingDaemon:
		switch key {
		case "subsys":
			h.subsys = strp(value)
		case "name":
			h.daemonName = strp(value)
		default:
			h.items = append([]keyValue{{key, value}}, h.items...)
		}
		return nil
	case ctxUIDGID:
		return h.uidgidItem(key, value)
	case ctxMember:
		if key != "memberaddr" {
			return errString("Only memberaddr is allowed in member section")
		}
		h.members = append([]string{value}, h.members...)
		return nil
	case ctxNode:
		name := truncKey(fmt.Sprintf("nodelist.node.%d.%s", h.nodeNumber, key))
		if key == "nodeid" || key == "quorum_votes" {
			v, err := tU32.convert(name, value)
			if err != nil {
				return err
			}
			return h.m.set(name, v)
		}
		return h.m.set(name, cval.Str(value))
	case ctxResources:
		if key == "watchdog_timeout" {
			return h.setTyped(path, value, tU32)
		}
	case ctxResourcesSystem, ctxResourcesSystemMemUsed, ctxResourcesProcess, ctxResourcesProcessMemUsed:
		if key == "poll_period" {
			v, err := convertU64(path, value)
			if err != nil {
				return err
			}
			return h.m.set(path, v)
		}
	}
	return h.m.set(path, cval.Str(value))
}

func (h *mainHandler) totemItem(path, key, value string) error {
	if path == "totem."+key {
		switch {
		case isTotemU32Key(key):
			return h.setTyped(path, value, tU32)
		case key == "knet_compression_level":
			return h.setTyped(path, value, tI32)
		case key == "config_version":
			v, err := convertU64(path, value)
			if err != nil {
				return err
			}
			return h.m.set(path, v)
		case key == "ip_version":
			if !oneOf(value, "ipv4", "ipv6", "ipv6-4", "ipv4-6") {
				return errString("Invalid ip_version type")
			}
		case key == "crypto_model":
			if !oneOf(value, knetCryptoModels()...) {
				return errString("Invalid crypto model. Should be " + modelList(knetCryptoModels()))
			}
		case key == "crypto_cipher":
			if !oneOf(value, "none", "aes256", "aes192", "aes128") {
				return errString("Invalid cipher type. Should be none, aes256, aes192 or aes128")
			}
		case key == "crypto_hash":
			if !oneOf(value, "none", "md5", "sha1", "sha256", "sha384", "sha512") {
				return errString("Invalid hash type. Should be none, md5, sha1, sha256, sha384 or sha512")
			}
		case key == "knet_compression_model":
			if !oneOf(value, knetCompressModels()...) {
				return errString("Invalid compression model. Should be " + modelList(knetCompressModels()))
			}
		}
	}
	return h.m.set(path, cval.Str(value))
}

func (h *mainHandler) systemItem(path, value string) error {
	switch path {
	case "system.qb_ipc_type":
		if !oneOf(value, "native", "shm", "socket") {
			return errString("Invalid system.qb_ipc_type")
		}
	case "system.sched_rr":
		if !oneOf(value, "yes", "no") {
			return errString("Invalid system.sched_rr value")
		}
	case "system.move_to_root_cgroup":
		if !oneOf(value, "yes", "no", "auto") {
			return errString("Invalid system.move_to_root_cgroup")
		}
	case "system.allow_knet_handle_fallback":
		if !oneOf(value, "yes", "no") {
			return errString("Invalid system.allow_knet_handle_fallback")
		}
	}
	return h.m.set(path, cval.Str(value))
}

// interfaceItem collects the known items of an interface block; they are
// written under the link number when the block closes.
func (h *mainHandler) interfaceItem(path, value string) error {
	num := func(t intType, dst *int64) error {
		v, err := t.convert(path, value)
		if err != nil {
			return err
		}
		u, _ := v.AsUint()
		*dst = int64(int32(uint32(u)))
		return nil
	}
	switch path {
	case "totem.interface.linknumber":
		return num(tU8, &h.link)
	case "totem.interface.bindnetaddr":
		h.bindnetaddr = strp(value)
	case "totem.interface.mcastaddr":
		h.mcastaddr = strp(value)
	case "totem.interface.broadcast":
		h.broadcast = strp(value)
	case "totem.interface.mcastport":
		return num(tU16, &h.mcastport)
	case "totem.interface.ttl":
		return num(tU8, &h.ttl)
	case "totem.interface.knet_link_priority":
		return num(tU8, &h.linkPriority)
	case "totem.interface.knet_ping_interval":
		return num(tU32, &h.pingInterval)
	case "totem.interface.knet_ping_timeout":
		return num(tU32, &h.pingTimeout)
	case "totem.interface.knet_ping_precision":
		return num(tU32, &h.pingPrecision)
	case "totem.interface.knet_pong_count":
		return num(tU32, &h.pongCount)
	case "totem.interface.knet_transport":
		h.knetTransport = strp(value)
	default:
		return h.m.set(path, cval.Str(value))
	}
	return nil
}

func (h *mainHandler) uidgidItem(key, value string) error {
	switch key {
	case "uid":
		id, err := h.ids.uid(value)
		if err != nil {
			return err
		}
		return h.m.set(fmt.Sprintf("uidgid.config.uid.%d", id), cval.U8(1))
	case "gid":
		id, err := h.ids.gid(value)
		if err != nil {
			return err
		}
		return h.m.set(fmt.Sprintf("uidgid.config.gid.%d", id), cval.U8(1))
	}
	return errString("uidgid: Only uid and gid are allowed items")
}

func (h *mainHandler) sectionEnd(path string, ctx *sectionCtx) error {
	switch *ctx {
	case ctxInterface:
		return h.writeInterface()
	case ctxLoggerSubsys:
		if h.subsys == nil {
			return errString("No subsys key in logger_subsys directive")
		}
		sub := *h.subsys
		for _, kv := range h.items {
			if err := h.m.set(truncKey("logging.logger_subsys."+sub+"."+kv.key), cval.Str(kv.value)); err != nil {
				return err
			}
		}
		h.items, h.subsys = nil, nil
		return h.m.set(truncKey("logging.logger_subsys."+sub+".subsys"), cval.Str(sub))
	case ctxLoggingDaemon:
		return h.writeLoggingDaemon()
	case ctxNode:
		h.nodeNumber++
	}
	return nil
}

func (h *mainHandler) writeInterface() error {
	prefix := "totem.interface." + strconv.FormatInt(h.link, 10) + "."
	strs := []struct {
		name string
		v    **string
	}{{"bindnetaddr", &h.bindnetaddr}, {"mcastaddr", &h.mcastaddr}, {"broadcast", &h.broadcast}}
	for _, s := range strs {
		if *s.v != nil {
			val := **s.v
			*s.v = nil
			if err := h.m.set(truncKey(prefix+s.name), cval.Str(val)); err != nil {
				return err
			}
		}
	}
	nums := []struct {
		name string
		v    int64
		mk   func(int64) cval.Value
	}{
		{"mcastport", h.mcastport, func(v int64) cval.Value { return cval.U16(uint16(v)) }},
		{"ttl", h.ttl, func(v int64) cval.Value { return cval.U8(uint8(v)) }},
		{"knet_link_priority", h.linkPriority, func(v int64) cval.Value { return cval.U8(uint8(v)) }},
		{"knet_ping_interval", h.pingInterval, func(v int64) cval.Value { return cval.U32(uint32(v)) }},
		{"knet_ping_timeout", h.pingTimeout, func(v int64) cval.Value { return cval.U32(uint32(v)) }},
		{"knet_ping_precision", h.pingPrecision, func(v int64) cval.Value { return cval.U32(uint32(v)) }},
		{"knet_pong_count", h.pongCount, func(v int64) cval.Value { return cval.U32(uint32(v)) }},
	}
	for _, n := range nums {
		if n.v > -1 {
			if err := h.m.set(truncKey(prefix+n.name), n.mk(n.v)); err != nil {
				return err
			}
		}
	}
	if h.knetTransport != nil {
		val := *h.knetTransport
		h.knetTransport = nil
		if err := h.m.set(truncKey(prefix+"knet_transport"), cval.Str(val)); err != nil {
			return err
		}
	}
	members := h.members
	h.members = nil
	for i, addr := range members {
		if err := h.m.set(truncKey(fmt.Sprintf("%smember.%d", prefix, i)), cval.Str(addr)); err != nil {
			return err
		}
	}
	return nil
}

func (h *mainHandler) writeLoggingDaemon() error {
	if h.daemonName == nil {
		return errString("No name key in logging_daemon directive")
	}
	name := *h.daemonName
	items := h.items
	sub := h.subsys
	h.items, h.subsys, h.daemonName = nil, nil, nil
	for _, kv := range items {
		var key string
		switch {
		case sub == nil && name == "corosync":
			key = "logging." + kv.key
		case sub == nil:
			key = "logging.logging_daemon." + name + "." + kv.key
		case name == "corosync":
			key = "logging.logger_subsys." + *sub + "." + kv.key
		default:
			key = "logging.logging_daemon." + name + "." + *sub + "." + kv.key
		}
		if err := h.m.set(truncKey(key), cval.Str(kv.value)); err != nil {
			return err
		}
	}
	switch {
	case sub == nil && name == "corosync":
		return nil
	case sub == nil:
		return h.m.set(truncKey("logging.logging_daemon."+name+".name"), cval.Str(name))
	case name == "corosync":
		return h.m.set(truncKey("logging.logger_subsys."+*sub+".subsys"), cval.Str(*sub))
	}
	if err := h.m.set(truncKey("logging.logging_daemon."+name+"."+*sub+".subsys"), cval.Str(*sub)); err != nil {
		return err
	}
	return h.m.set(truncKey("logging.logging_daemon."+name+"."+*sub+".name"), cval.Str(name))
}
