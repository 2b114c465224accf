// Package coroconf reads corosync.conf exactly as Corosync 3.1.7 does: the
// line grammar, the section contexts that decide key types, the uidgid.d
// directory, and the totem derivation and validation that `corosync -t`
// performs. The result is a flat cmap key map (Map) whose keys, types and
// values match what Corosync stores in its icmap, plus a typed Totem value
// for the protocol configuration.
//
// Error texts are Corosync's byte for byte, because scripts (pcs, crmsh)
// parse `corosync -t` output. Every Error carries the exit code Corosync
// uses for it.
package coroconf
