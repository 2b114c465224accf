// Package wire encodes and decodes the bytes of every libqb message of
// corosync 3.1.7's quorum service (service 3, endpoint "quorum",
// spec/client-api.md §8) and votequorum service (service 5, endpoint
// "votequorum", §9), in both directions: the daemon decodes requests and
// encodes responses and events, a Go client does the opposite. Each
// message is whole, libqb header included (request header 16 bytes:
// id@0, size@8; response header 24 bytes: id@0, size@8, error@16).
//
// Layouts are those of the 3.1.7 ipc_quorum.h / ipc_votequorum.h structs
// as x86_64 gcc lays them out: most members are aligned(8), the plain
// `unsigned int` members of the votequorum requests are not, and the
// flexible arrays of the V0 quorum notification (view_list @44) and the V1
// nodelist notification (member_list @60) start before the rounded struct
// size that header.size counts from (sizeof + 4×n). Offsets are written
// out beside each message; nothing is derived by rule.
//
// Integers are in host byte order (corosync never swaps IPC traffic).
// Padding is written as zeros and ignored on reading. Decoders check every
// length against the bytes that arrived, require header.size to equal that
// length, and return an error naming the message and what was wrong; they
// never panic. Corosync itself reads short requests past their end; the
// daemon answers any request this package refuses with
// GenericError(cs.ErrInvalidParam), the reply shape corosync's dispatcher
// uses for requests it cannot hand to a handler.
//
// 3.1.7 has no QDEVICE_GETINFO request (2.0.0's request 9; in 3.1.7 the
// device's name and votes ride in every GETINFO reply) and no
// cancel-wait-for-all request (that is the cmap key
// quorum.cancel_wait_for_all): neither exists on this wire.
package wire
