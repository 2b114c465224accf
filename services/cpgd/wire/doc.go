// Package wire encodes and decodes the bytes of every cpg IPC message of
// corosync 3.1.7 (spec/client-api.md §7, x86_64 layouts) in both
// directions: cpgd decodes requests and encodes responses and events, the
// Go client (services/cpgd/client) does the opposite. Each message is
// whole, libqb header included.
//
// Two request layouts begin with a 24-byte response-shaped header (MCAST
// and PARTIAL_MCAST, as ipc_cpg.h declares them); libcpg leaves its error
// field uninitialised, so decoders ignore it. Integers are in host byte
// order (corosync never swaps IPC traffic). Padding is written as zeros
// and ignored on reading: libcpg does not zero its JOIN request and leaves
// the group name of a NAME_ONLY/ALL iteration request uninitialised.
//
// Zero-copy (requests 9, 10, 11): needle does not implement it. cpgd
// answers each of them as corosync does after v3.1.10 (upstream commit
// 28fb3425, addendum-317 §4): a bare 24-byte header with id 14 and
// CS_ERR_NOT_SUPPORTED (NotSupportedReply). The request codecs are still
// here, so the daemon can recognise and log them and fuzzing covers them.
//
// Decoders check every length against the bytes that arrived and return
// an error naming the message and the fault; they never panic. A group
// name whose length field exceeds 128 decodes to a *NameError, which the
// daemon answers with CS_ERR_NAME_TOO_LONG in the request's own reply.
package wire
