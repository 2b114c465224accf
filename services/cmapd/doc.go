// Package cmapd is the CMAP service daemon of needle: Corosync's
// configuration and runtime key/value map (spec/cmap.md), served to libqb
// clients and fed by the other daemons over the bus.
//
// The protocol cores live in sub-packages and are pure: cs (cs_error_t),
// value (typed values as Corosync stores them), wire (client IPC
// messages), ctlfmt (corosync-cmapctl output), internal/store (the maps,
// iterators and trackers), internal/cfgver (the config_version ring
// message and sync participation) and internal/load (initial map and
// reload from corosync.conf).
package cmapd
