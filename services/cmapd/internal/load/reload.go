package load

import (
	"sort"
	"strings"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// Keys of the reload bracket.
const (
	KeyTotemReloadInProgress = "config.totemconfig_reload_in_progress"
	KeyReloadInProgress      = "config.reload_in_progress"
	KeyReloadStatus          = "config.reload_status"
)

// Step is one write of a reload: set Key to Value, or delete it.
type Step struct {
	Key    string
	Delete bool
	Value  value.Value
}

// Plan is what a reload does to the live map, in order, with the notices
// and errors corosync logs and the status the cfgtool client gets.
type Plan struct {
	Steps  []Step
	Log    []string
	Status cs.Error
}

// Live is the read side of the live map (store.Store has it).
type Live interface {
	Get(key string) (value.Value, bool)
	Keys(prefix string) []string
}

// ReloadOptions select build-dependent behaviour.
type ReloadOptions struct {
	// CryptoReconf is true when the transport can change crypto at run
	// time (corosync's HAVE_KNET_CRYPTO_RECONF; Debian's build has it).
	// Without it the crypto keys join the cannot-change list.
	CryptoReconf bool
}

// reloadPrefixes are the key spaces a reload makes match the file; others
// (resources., system., pload., runtime., uidgid.uid.…) are never deleted.
func reloadPrefixes() []string {
	return []string{"logging.", "totem.", "nodelist.", "quorum.", "uidgid.config.", "nozzle."}
}

// fixedKeys cannot change at run time: a file value that differs from the
// live one (or is new) is dropped with a notice. The totem.interface.*
// entries without a link number are in corosync's list too but never
// match a real key, so interface keys are copied.
func fixedKeys(o ReloadOptions) []string {
	var k []string
	if !o.CryptoReconf {
		k = append(k, "totem.secauth", "totem.crypto_hash", "totem.crypto_cipher", "totem.keyfile", "totem.key")
	}
	return append(k, "totem.version", "totem.threads", "totem.ip_version", "totem.rrp_mode", "totem.netmtu",
		"totem.transport", "totem.cluster_name", "quorum.provider", "system.move_to_root_cgroup",
		"system.allow_knet_handle_fallback", "system.sched_rr", "system.priority", "system.qb_ipc_type",
		"system.state_dir")
}

// ReloadBegin is the first write of every reload, made before the file is
// read.
func ReloadBegin() Step { return Step{Key: KeyTotemReloadInProgress, Value: value.U8(1)} }

// ReloadParseFailed is the rest of a reload whose file does not parse:
// only the log line and CS_ERR_INVALID_PARAM. Nothing else is written, so
// config.totemconfig_reload_in_progress stays 1 until a reload succeeds
// (verified on 3.1.7) and config.reload_status keeps its old value.
func ReloadParseFailed(err error) Plan {
	return Plan{Log: []string{"Unable to reload config file: " + err.Error()}, Status: cs.ErrInvalidParam}
}

// Reload plans a reload after ReloadBegin, for a file that parsed.
// parsed is the file's keys (coroconf.Load); derived is a copy after
// coroconf.ReadTotem and validation, or nil with invalid set when those
// failed — invalid is then logged as given (corosync's forms are "Cannot
// configure new interface definitions: …", "Configuration is not valid:
// …", "Crypto configuration is not valid: …"). The steps follow corosync's
// order: reload_in_progress = 1; delete live keys under the reload
// prefixes that the file does not have (derived ones included); drop
// changes to fixed keys; on an invalid configuration stop there (the
// deletions stay); else write the knet ping timers (knet only), then copy
// the file's keys with the derived runtime.config.* and
// nodelist.local_node_pos in key order (unchanged values notify nothing);
// last reload_status and the two in-progress flags back to 0. All four
// cases are checked against traces of corosync 3.1.7.
func Reload(live Live, parsed, derived coroconf.Map, invalid error, o ReloadOptions) Plan {
	p := Plan{Status: cs.OK}
	p.Steps = append(p.Steps, Step{Key: KeyReloadInProgress, Value: value.U8(1)})

	// Step 4 compares with the file alone: keys corosync derives (like
	// nodelist.local_node_pos or a generated bindnetaddr) are deleted here,
	// and only some come back with the copy.
	scratch := make(map[string]value.Value, len(parsed)+32)
	for k, v := range parsed {
		scratch[k] = v.Clone()
	}
	for _, prefix := range reloadPrefixes() {
		for _, k := range live.Keys(prefix) {
			if _, ok := scratch[k]; !ok {
				p.Steps = append(p.Steps, Step{Key: k, Delete: true})
			}
		}
	}
	for _, k := range fixedKeys(o) {
		nv, inFile := scratch[k]
		if !inFile {
			continue
		}
		if lv, ok := live.Get(k); !ok || !lv.Equal(nv) {
			delete(scratch, k)
			p.Log = append(p.Log, "Modified entry '"+k+"' in corosync.conf cannot be changed at run-time")
		}
	}
	if invalid != nil {
		p.Log = append(p.Log, invalid.Error())
		p.Status = cs.ErrInvalidParam
	} else {
		// The derived values the new totem configuration brings: the
		// volatile timers and the local node position. The knet ping timers
		// are written to the live map first, and only for knet: udp and
		// udpu keep link 0 as it was configured at start-up.
		udp := false
		if tr, ok := live.Get("totem.transport"); ok {
			s, _ := tr.AsString()
			udp = s == coroconf.TransportUDP || s == coroconf.TransportUDPU
		}
		var pings []string
		for k, v := range derived {
			switch {
			case strings.HasPrefix(k, "runtime.config.totem.interface."):
				if !udp {
					pings = append(pings, k)
					scratch[k] = v.Clone()
				}
			case strings.HasPrefix(k, "runtime.config.") || k == "nodelist.local_node_pos":
				scratch[k] = v.Clone()
			}
		}
		sort.Strings(pings)
		for _, k := range pings {
			p.Steps = append(p.Steps, Step{Key: k, Value: scratch[k]})
		}
		keys := make([]string, 0, len(scratch))
		for k := range scratch {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p.Steps = append(p.Steps, Step{Key: k, Value: scratch[k]})
		}
	}
	p.Steps = append(p.Steps,
		Step{Key: KeyReloadStatus, Value: value.I32(int32(p.Status))},
		Step{Key: KeyTotemReloadInProgress, Value: value.U8(0)},
		Step{Key: KeyReloadInProgress, Value: value.U8(0)})
	return p
}

// Apply performs steps on the store with the daemon's rights and returns
// the tracker events in order. A failed write (a key the file could not
// have produced) is reported with its key.
func Apply(s *store.Store, steps []Step) ([]store.Event, []StepError) {
	var evs []store.Event
	var errs []StepError
	for _, st := range steps {
		var r store.Result
		if st.Delete {
			r = s.Delete(st.Key)
		} else {
			r = s.Set(st.Key, st.Value)
		}
		if r.Err != cs.OK {
			errs = append(errs, StepError{Key: st.Key, Err: r.Err})
		}
		evs = append(evs, r.Events...)
	}
	return evs, errs
}

// StepError is a reload write the store refused.
type StepError struct {
	Key string
	Err cs.Error
}
