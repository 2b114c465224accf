// Package cfg is corosync's "cfg" service (service id 1) as a pure core:
// the byte codec of every cfg client message and ring message (corosync
// 3.1.7 layouts, spec/client-api.md §6 and spec/cfg.md §6), and the
// service logic — status queries, kill node, coordinated shutdown with its
// trackers and votes, configuration reload — as a state machine. No
// goroutines, sockets or clocks live here.
//
// The driver (totemd's node loop) owns one Service and, on its goroutine:
//
//   - answers the core's questions through StatusProvider;
//   - feeds it events: Connect/Disconnect and Request per libqb client
//     connection (cfgipc does this for the "cfg" endpoint), Deliver for
//     every delivered ring message whose exec id belongs to service 1
//     (the whole service message, exec header first, with the sender's
//     node id), TimerExpired, ReloadDone and ReopenLogsDone;
//   - carries out the returned Actions in order: Respond and SendEvent on
//     the connection, Multicast to the ring (SAFE), StartTimer/StopTimer,
//     Reload (re-read corosync.conf everywhere, then ReloadDone),
//     ReopenLogs, CryptoPhase, Log under subsystem CFG, Exit (at once,
//     no leave message) and Shutdown (orderly leave, exit 0).
package cfg
