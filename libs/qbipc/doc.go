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
// Server side: Listen + Server.Serve, with a Handler per service.
// Client side: Dial, then Client.Request and Client.ReadEvent.
package qbipc
