// Package qbipc speaks libqb 2.0.6's IPC protocol, both ends, so that
// unmodified corosync client libraries (libcmap, libcfg, libcpg, libquorum,
// libvotequorum) talk to needle's daemons, and needle's Go tools talk to a
// real corosync.
//
// A service is a listening unix stream socket on a NUL-padded abstract name
// (spec/ipc-libqb.md §2). After a fixed-size handshake (§3) the server picks
// the transport: shared-memory rings in /dev/shm (SHM, the default; §6) or
// unix datagram sockets (Socket; §5). Messages are opaque to this package
// apart from their headers: a 16-byte request header and a 24-byte
// response/event header (§4); the service bytes inside are the caller's.
//
// Server side: Listen a Config with a Handler, then Serve until the context
// ends. The Handler authorizes each client in Connect (Authorize applies
// corosync's root-or-uidgid rule), answers requests in order, and releases
// per-client state in Disconnect. Events go out with Conn.SendEvent, queued
// per connection; Conn.SetFlowControl sets libqb's flow-control flag. A
// client that sends malformed messages, truncates its ring files or stops
// reading its events is dropped; the process and other clients carry on.
// The event queues are the only memory a client can make grow; they are
// bounded per connection and, for all connections together, by an
// EventBudget, and a client dropped at either bound is logged by service,
// pid, uid and process name (budget.go says why this is not corosync's
// unbounded queue).
// A daemon that restarts on purpose hands its clients to its successor
// without their noticing (ipcproto's doc, "Handing a daemon over to its
// successor"): Server.Pause stops accepting and reading requests (events
// and responses still flow), Server.Handover turns every connection into a
// Parked, whose Encode gives the bytes and descriptors to send; the
// successor's Listen takes them back (Config.Adopt, after DecodeParked,
// with Config.Inherited for the kept listening sockets), its handler
// restores its state from Server.Adopted, and Serve goes on where the
// predecessor stopped: unread requests, queued events, flow control and
// counters carry over.
// The listening process should run as root: Pacemaker checks that the
// server end of its fd belongs to uid 0 or gid 0.
//
// Client side: Dial a service name, then Request (or Call) and ReadEvent,
// each bounded by a context. A server that dies is reported as an error
// wrapping ErrDisconnected, at once while waiting for events in both
// transports. Errno maps errors to the errno libqb reports, for
// translation to cs_error_t.
package qbipc
