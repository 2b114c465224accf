package coroconf

import (
	"fmt"
	"sort"
)

func sortNodes(nodes []Node) {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Pos < nodes[j].Pos })
}

// ValidateOptions select deviations from corosync 3.1.7's rules.
type ValidateOptions struct {
	// Needle allows crypto on udp/udpu: needle seals every frame itself
	// (design decision 2), while corosync 3.x only encrypts knet.
	Needle bool
}

// Validate checks a Totem read from m in the order of corosync's
// totem_config_validate (config.md §6.7) and fills the netmtu default.
func Validate(t *Totem, m Map, env Env, opts ValidateOptions) error {
	r := &totemReader{m: m, env: env, t: t}
	return r.validate(opts)
}

func (r *totemReader) validate(opts ValidateOptions) error {
	t, m := r.t, r.m
	configured := 0
	for _, l := range t.Links {
		if l.Configured {
			configured++
		}
	}
	if configured == 0 {
		return peError("No interfaces defined")
	}
	if _, ok := m.u32("nodelist.local_node_pos"); !ok {
		return peError("No valid name found for local host")
	}
	for i, l := range t.Links {
		if !l.Configured {
			continue
		}
		if t.Transport == TransportUDP && !l.McastAddr.IsValid() {
			return peError(fmt.Sprintf("No multicast address specified for interface %d", i))
		}
		if l.Port == 0 {
			return peError(fmt.Sprintf("No multicast port specified for interface %d", i))
		}
		if t.Transport != TransportUDP && l.TTL != 1 {
			return peError(fmt.Sprintf("Can only set ttl on multicast transport types for interface %d", i))
		}
		if t.Transport != TransportKnet && l.KnetLinkPriority != 1 {
			return peError(fmt.Sprintf("Can only set link priority on knet transport type for interface %d", i))
		}
		if l.McastAddr.IsValid() && !l.McastAddr.Is4() && t.NodeID == 0 {
			return peError(fmt.Sprintf("An IPV6 network requires that a node ID be specified for interface %d", i))
		}
		if !t.Broadcast && t.Transport == TransportUDP {
			if l.McastAddr.Is4() != l.BindNet.Is4() || l.McastAddr.IsValid() != l.BindNet.IsValid() {
				return peError(fmt.Sprintf("Multicast address family does not match bind address family for interface %d", i))
			}
			if l.McastAddr.Is4() && l.McastAddr.As4()[0]>>4 != 0xE {
				return peError(fmt.Sprintf("mcastaddr is not a correct multicast address for interface %d", i))
			}
		}
	}
	if t.Version != 2 {
		return peError("This totem parser can only parse version 2 configurations.")
	}
	if err := r.validateTimers(); err != nil {
		return err
	}
	if err := r.checkDuplicateNodeIDs(); err != nil {
		return err
	}
	if t.LinkMode != "active" && t.LinkMode != "rr" && t.LinkMode != "passive" {
		return peError(fmt.Sprintf("The Knet link mode \"%s\" specified is invalid.  It must be active, passive or rr.", t.LinkMode))
	}
	if t.Transport != TransportKnet && configured > 1 {
		return peError(fmt.Sprintf("%d is too many configured interfaces for non-Knet transport.", configured))
	}
	if !opts.Needle && t.Transport != TransportKnet && (t.CryptoCipher != "none" || t.CryptoHash != "none") {
		return peError("crypto_cipher & crypto_hash are only valid for the Knet transport.")
	}
	if t.NetMTU == 0 {
		t.NetMTU = udpNetMTU
		if t.Transport == TransportKnet {
			t.NetMTU = knetNetMTU
		}
	}
	return nil
}

// ms32 renders a u32 the way Corosync's "%d" does.
func ms32(v uint32) int32 { return int32(v) }

func (r *totemReader) validateTimers() error {
	t, m := r.t, r.m
	ms := func(d interface{ Milliseconds() int64 }) uint32 { return uint32(d.Milliseconds()) }
	tm := t.Timers
	minimum := func(name string, v uint32) error {
		if v < minimumTimeout {
			return peError(fmt.Sprintf("The %s parameter (%d ms) may not be less than (%d ms).", name, ms32(v), minimumTimeout))
		}
		return nil
	}
	if err := minimum("max_network_delay", ms(tm.MaxNetworkDelay)); err != nil {
		return err
	}
	if err := minimum("token timeout", ms(tm.Token)); err != nil {
		return err
	}
	if tm.TokenWarningPercent > 100 {
		return peError(fmt.Sprintf("The token warning parameter (%d%%) must be between 0 (disabled) and 100.", ms32(tm.TokenWarningPercent)))
	}
	if v := ms(tm.TokenRetransmit); v < minimumTimeout {
		if _, ok := m.u32("totem.token_retransmit"); ok {
			return peError(fmt.Sprintf("The token retransmit timeout parameter (%d ms) may not be less than (%d ms).", ms32(v), minimumTimeout))
		}
		return peError("Not appropriate token or token_retransmits_before_loss_const value set")
	}
	if v := ms(tm.Hold); v < minimumHoldTimeout {
		return peError(fmt.Sprintf("The token hold timeout parameter (%d ms) may not be less than (%d ms).", ms32(v), minimumHoldTimeout))
	}
	if err := minimum("join timeout", ms(tm.Join)); err != nil {
		return err
	}
	if err := minimum("consensus timeout", ms(tm.Consensus)); err != nil {
		return err
	}
	if ms(tm.Consensus) < ms(tm.Join) {
		return peError(fmt.Sprintf("The consensus timeout parameter (%d ms) may not be less than join timeout (%d ms).", ms32(ms(tm.Consensus)), ms32(ms(tm.Join))))
	}
	if err := minimum("merge timeout", ms(tm.Merge)); err != nil {
		return err
	}
	if err := minimum("downcheck timeout", ms(tm.Downcheck)); err != nil {
		return err
	}

	configured, members := 0, -1
	for _, l := range t.Links {
		if l.Configured {
			if configured == 0 {
				members = len(l.Members)
			}
			configured++
		}
	}
	if configured > 1 {
		for i := 0; i < members; i++ {
			if _, ok := m.str(fmt.Sprintf("nodelist.node.%d.name", i)); !ok {
				return peError("for a multi-link configuration, all nodes must have a 'name' attribute")
			}
		}
		for _, l := range t.Links {
			if l.Configured && len(l.Members) != members {
				return peError("Not all nodes have the same number of links")
			}
		}
	}
	for i, l := range t.Links {
		if !l.Configured {
			continue
		}
		for j := 1; j < len(l.Members); j++ {
			if l.Members[j].Addr.Is4() != l.Members[0].Addr.Is4() {
				return peError(fmt.Sprintf("Nodes for link %d have different IP families (compared %s with %s)", i, l.Members[j].Addr, l.Members[0].Addr))
			}
		}
	}
	return nil
}
