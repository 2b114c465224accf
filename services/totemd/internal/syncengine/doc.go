// Package syncengine is the service synchronisation engine that runs after
// every membership change (spec/sync.md): the barrier protocol of corosync
// 3.1.7's exec/sync.c, as a pure deterministic state machine.
//
// The engine owns no goroutine, socket or clock. The totemd driver feeds it
// events — ConfChange, Deliver (messages of the totempg group "sync" in agreed
// order), TokenSent (the token-sent hook), ServiceDone, ServiceAttached and
// ServiceDetached — and carries out the Actions each event returns:
// multicasts into group "sync", each local daemon's configuration changes
// with its service membership (ServiceConfChg, and HoldDeliveries /
// ReleaseDeliveries around a new ring's wait for them: view.go), sync
// callbacks for the service daemons (InitService, ProcessService,
// ActivateService, AbortService) and the SyncStarted/SyncComplete edges of
// "sync in progress".
//
// Service daemons live in their own processes, so a service's sync_process is
// asynchronous here: ProcessService asks the daemon to send its sync
// messages and ServiceDone says it has. Services no local daemon serves, and
// unknown ids announced by peers, are placeholders that finish at once.
//
// Beyond corosync, the engine runs per-service rounds when a service daemon
// attaches or detaches on some node (design.md "Service membership"), with
// three needle-only sync message ids that corosync 3.1.7 silently ignores
// (see codec.go).
//
// Wiring in the driver: for each Totem delivery, a configuration change
// goes to ConfChange (the daemons' configuration changes come back as
// actions); a message of group "sync" goes to Deliver; a message of group
// "a" goes to its service's daemon, or into the held list while the
// engine holds deliveries. The
// srp token-sent hook calls TokenSent. A daemon's "sync done" on the bus
// calls ServiceDone after the sync messages it sent before it were queued.
// Multicast actions go to totempg group "sync" in order; on SyncComplete the
// driver ends IPC flow control and acknowledges the transitional phase.
package syncengine
