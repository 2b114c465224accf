// Package cmapwire encodes and decodes the bytes of every cmap IPC message
// (spec/client-api.md §5) in both directions: the daemon decodes requests
// and encodes responses and events, a Go client does the opposite. Each
// message is whole, libqb header included (request header 16 bytes:
// id@0, size@8; response header 24 bytes: id@0, size@8, error@16).
//
// Integers are in host byte order, as corosync never swaps IPC traffic.
// Padding is written as zeros and ignored on reading (corosync leaves
// stack garbage in some of its replies). Decoders check every length
// against the bytes that arrived and return an error naming the message
// and what was wrong; they never panic.
package cmapwire
