package store

import (
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// readOnly is the list of keys and prefixes IPC clients may not change
// (icmap_set_ro_access). The daemon's own writes ignore it.
type readOnly struct {
	exact    map[string]bool
	prefixes []string
}

// DefaultReadOnlyPrefixes are the prefixes corosync's main marks read-only
// at start-up (3.1.7, exec/main.c); the whole nodelist is among them.
func DefaultReadOnlyPrefixes() []string {
	return []string{
		"internal_configuration.", "runtime.services.", "runtime.config.", "runtime.totem.",
		"uidgid.config.", "system.", "nodelist.",
	}
}

// DefaultReadOnlyKeys are the exact keys main and totemconfig mark
// read-only at start-up.
func DefaultReadOnlyKeys() []string {
	return []string{
		"totem.crypto_cipher", "totem.crypto_hash", "totem.crypto_model", "totem.keyfile",
		"totem.key", "totem.secauth", "totem.ip_version", "totem.rrp_mode", "totem.transport",
		"totem.cluster_name", "totem.netmtu", "totem.threads", "totem.version", "totem.nodeid",
		"totem.clear_node_high_bit", "config.reload_in_progress",
		"config.totemconfig_reload_in_progress", "nodelist.local_node_pos",
	}
}

// VotequorumReadOnlyKeys are the start-up-only quorum options votequorum
// marks read-only once it has initialised; quorumd asks for them over the
// bus when it attaches.
func VotequorumReadOnlyKeys() []string {
	return []string{
		"quorum.allow_downscale", "quorum.wait_for_all", "quorum.last_man_standing",
		"quorum.last_man_standing_window", "quorum.expected_votes_tracking",
		"quorum.auto_tie_breaker", "quorum.auto_tie_breaker_node",
	}
}

func newReadOnly() readOnly {
	r := readOnly{exact: make(map[string]bool)}
	r.prefixes = DefaultReadOnlyPrefixes()
	for _, k := range DefaultReadOnlyKeys() {
		r.exact[k] = true
	}
	return r
}

func (r *readOnly) is(key string) bool {
	if r.exact[key] {
		return true
	}
	for _, p := range r.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// set adds (ro) or removes (!ro) an entry with icmap_set_ro_access's
// answers: adding an existing entry is CS_ERR_EXIST, removing a missing
// one CS_ERR_NOT_EXIST.
func (r *readOnly) set(key string, prefix, ro bool) cs.Error {
	if !prefix {
		switch {
		case r.exact[key] == ro:
			if ro {
				return cs.ErrExist
			}
			return cs.ErrNotExist
		case ro:
			r.exact[key] = true
		default:
			delete(r.exact, key)
		}
		return cs.OK
	}
	for i, p := range r.prefixes {
		if p == key {
			if ro {
				return cs.ErrExist
			}
			r.prefixes = append(r.prefixes[:i], r.prefixes[i+1:]...)
			return cs.OK
		}
	}
	if !ro {
		return cs.ErrNotExist
	}
	r.prefixes = append(r.prefixes, key)
	return cs.OK
}
