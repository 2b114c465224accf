package srp

import (
	"fmt"
	"slices"
	"time"
)

// minHold is corosync's smallest hold period (MINIMUM_TIMEOUT_HOLD).
const minHold = 14 * time.Millisecond

// DefaultConfig returns corosync 3.1.7's effective defaults for a nodelist
// (token 3000 ms plus 650 ms per node beyond two, and the values derived
// from it), for tests and the simulator; totemd takes its values from
// libs/coroconf instead.
func DefaultConfig(self NodeID, nodes []NodeID) Config {
	token := 3000 * time.Millisecond
	if len(nodes) > 2 {
		token += time.Duration(len(nodes)-2) * 650 * time.Millisecond
	}
	retransmit := time.Duration(float64(token) / 4.2).Truncate(time.Millisecond)
	hold := max(time.Duration(float64(retransmit)*0.8).Truncate(time.Millisecond)-10*time.Millisecond, minHold)
	return Config{
		Self:                self,
		Nodes:               slices.Clone(nodes),
		Token:               token,
		TokenWarning:        token * 3 / 4, // totem.token_warning 75 %
		TokenRetransmit:     retransmit,
		Hold:                hold,
		Join:                50 * time.Millisecond,
		Consensus:           time.Duration(float64(token) * 1.2),
		Merge:               200 * time.Millisecond,
		Downcheck:           1000 * time.Millisecond,
		FailRecvConst:       2500,
		SeqnoUnchangedConst: 30,
		MissCountConst:      5,
		WindowSize:          50,
		MaxMessages:         17,
		MaxNetworkDelay:     50 * time.Millisecond,
		NetMTU:              1500,
		RingSeq:             1,
	}
}

// withDefaults validates cfg and fills every zero field with the value
// DefaultConfig would give, so a partly filled Config still runs.
func withDefaults(cfg Config) (Config, error) {
	if cfg.Self == 0 {
		return cfg, fmt.Errorf("config: Self is 0, a reserved nodeid")
	}
	if !slices.Contains(cfg.Nodes, cfg.Self) {
		return cfg, fmt.Errorf("config: Self %d is not in Nodes %v", cfg.Self, cfg.Nodes)
	}
	if slices.Contains(cfg.Nodes, 0) {
		return cfg, fmt.Errorf("config: Nodes %v contains the reserved nodeid 0", cfg.Nodes)
	}
	d := DefaultConfig(cfg.Self, cfg.Nodes)
	durs := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Token", &cfg.Token, d.Token},
		{"TokenRetransmit", &cfg.TokenRetransmit, d.TokenRetransmit},
		{"Hold", &cfg.Hold, d.Hold},
		{"Join", &cfg.Join, d.Join},
		{"Consensus", &cfg.Consensus, d.Consensus},
		{"Merge", &cfg.Merge, d.Merge},
		{"Downcheck", &cfg.Downcheck, d.Downcheck},
		{"MaxNetworkDelay", &cfg.MaxNetworkDelay, d.MaxNetworkDelay},
	}
	for _, f := range durs {
		if *f.v < 0 {
			return cfg, fmt.Errorf("config: %s is negative (%v)", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if cfg.SendJoin < 0 {
		return cfg, fmt.Errorf("config: SendJoin is negative (%v)", cfg.SendJoin)
	}
	consts := []struct {
		v   *uint32
		def uint32
	}{
		{&cfg.FailRecvConst, d.FailRecvConst},
		{&cfg.SeqnoUnchangedConst, d.SeqnoUnchangedConst},
		{&cfg.MissCountConst, d.MissCountConst},
		{&cfg.WindowSize, d.WindowSize},
		{&cfg.MaxMessages, d.MaxMessages},
	}
	for _, c := range consts {
		if *c.v == 0 {
			*c.v = c.def
		}
	}
	if cfg.WindowSize+cfg.MaxMessages > sortQueueSize {
		return cfg, fmt.Errorf("config: WindowSize %d + MaxMessages %d exceed the %d-slot sort queue", cfg.WindowSize, cfg.MaxMessages, sortQueueSize)
	}
	if cfg.NetMTU == 0 {
		cfg.NetMTU = d.NetMTU
	}
	if cfg.NetMTU < 2*mcastHeaderSize+64 {
		return cfg, fmt.Errorf("config: NetMTU %d is too small (minimum %d)", cfg.NetMTU, 2*mcastHeaderSize+64)
	}
	return cfg, nil
}
