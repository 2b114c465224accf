// Command cmapd is the CMAP service daemon of needle: Corosync's
// configuration and runtime key/value map (spec/cmap.md), served to libqb
// clients and fed by the other daemons over the bus.
//
// The protocol cores live in sub-packages and are pure. Shared with the
// other daemons in libs/corotypes: cs (cs_error_t), value (typed values as
// Corosync stores them), cmapwire (client IPC messages) and cmapreq (the
// format other daemons use to write into the map). Here: ctlfmt
// (corosync-cmapctl output and -s parsing), internal/store (the maps,
// iterators and trackers), internal/dispatch (one request's bytes in,
// reply and events out), internal/cfgver (the config_version ring message
// and sync participation), internal/members (runtime.members.* on
// configuration changes) and internal/load (initial map and reload from
// corosync.conf). internal/daemon drives them; client is the Go cmap client and cmd/cmapctl the corosync-cmapctl work-alike.
// testdata/real holds what Debian's corosync 3.1.7 did with the same
// inputs; testdata/probe/record.sh records it again.
package main
