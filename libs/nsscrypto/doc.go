// Package nsscrypto seals and opens Totem frames for encrypted needle rings,
// refuses replayed ones, loads the cluster authkey with Corosync 3.1.7's
// rules, and checks which algorithms Go's FIPS 140-3 mode allows.
//
// Real corosync 3.x has no crypto on udp/udpu, so a sealed ring is
// needle-only; with cipher and hash both "none" a frame passes through
// unchanged and the ring interoperates with corosync.
//
// # Sealed datagram layout (needle v2)
//
//	off   size  field
//	0     1     cipher type: 0 none, 1 aes256, 2 aes192, 3 aes128, 4 3des
//	1     1     hash type:   0 none, 1 md5, 2 sha1, 3 sha256, 4 sha384, 5 sha512
//	2     1     format, 1 (needle v1, without the sender header, sent 0)
//	3     1     pad, must be 0
//	4     4     sender nodeid (big-endian, as are the next three)
//	8     4     destination nodeid; 0 = every member (one udp multicast)
//	12    8     sender epoch (see Replay protection)
//	20    8     sequence number, per sender, epoch and destination, from 1
//	28    B     IV, fresh random bytes per datagram (B = cipher block size:
//	            16 for AES, 8 for 3DES; absent with cipher none)
//	28+B  n     CBC ciphertext of the frame with PKCS#7 padding (1..B bytes,
//	            a whole block when the frame is a multiple of B), or the
//	            plain frame with cipher none
//	end-H H     HMAC-<hash>(mac key, every byte before it, header included);
//	            H = 16/20/32/48/64 for md5/sha1/sha256/sha384/sha512
//
// The first four bytes are Corosync 2.x's header (types in every datagram,
// so a peer with other settings is told apart from a forgery); the HMAC
// sits at the end and covers everything before it as in Corosync 2.3+
// (encrypt-then-MAC). Unlike Corosync 2.0.0, the HMAC is always keyed, and
// a cipher without a hash is refused. The sender header is in clear but
// under the HMAC: it is not secret (the source address tells as much), it
// must not be alterable, and keeping it outside the ciphertext lets Open
// refuse a replay without decrypting it. Overhead is 24 bytes more than
// v1's; a v1 datagram is refused with ErrHeader, so an encrypted ring is
// upgraded all at once, not node by node.
//
// # Keys
//
// Two independent keys come from the authkey with HKDF-SHA-256 (RFC 5869,
// no salt): the cipher key (32/24/16/24 bytes for aes256/aes192/aes128/3des)
// with info "needle totem v1 cipher <cipher>+<hash>", and the HMAC key (the
// hash's output size) with info "needle totem v1 hmac <cipher>+<hash>".
// Naming the suite in the info means two suites never share key material.
//
// Open checks length, header and (in constant time) the HMAC before it
// looks at the sender header or decrypts anything, so a forged datagram
// never reaches the replay window or the cipher.
//
// # Replay protection
//
// Corosync 2.x's crypto (and knet's in 3.x) has none: a datagram captured
// on the wire and sent again later, with a member's source address, is
// authentic, and Totem acts on it — one replayed join makes a whole ring
// re-form, again and again. Needle refuses it. The threat is an outsider
// who can capture and inject datagrams but does not hold the authkey;
// holders of the key are members and trusted, as in corosync.
//
// Sender side. A node seals everything with one Sealer made for its nodeid
// and its epoch. The epoch is a 64-bit number that must grow with every
// start of the node: NextEpoch takes max(wall clock in Unix nanoseconds,
// previous epoch + 1) and records it in the state directory
// (needle-epoch_<nodeid> beside corosync's ringid_<nodeid>), so it grows
// when the clock is right or the file survived. Each datagram carries the
// next sequence number for its destination: a multicast is sealed once,
// for destination 0 (every member) — one datagram to the group on udp, the
// same datagram to each member on udpu — and a token or anything else for
// one node is sealed for that node.
//
// Receiver side. Each node opens everything with one Opener, which keeps,
// per stream (sender, and whether the datagram was for this node or for
// every member), the sender's epoch, the highest sequence number accepted
// and a bitmap of the WindowSize (1024) numbers below it. An authentic
// datagram is refused, and counted by the transport as a replay, when
//
//   - its destination is neither this node nor 0 (ErrMisdirected: a copy
//     captured on its way to another member);
//   - its epoch is lower than the stream's (ErrReplay: the sender has
//     restarted since, this is its previous life);
//   - its epoch is the stream's and its sequence number is below the
//     highest and was accepted before, or is below the first one this node
//     accepted in the epoch, or is WindowSize or more below the highest, or
//     arrives MaxLate (1 s) or more after the highest did (ErrReplay).
//
// A higher epoch than the stream's is the sender's restart: the stream
// starts afresh at that datagram. A stream never heard of is accepted as
// it comes. The first sequence number accepted in an epoch is a floor:
// what the sender sealed before it, while this node was not yet listening,
// was never received and must not be accepted later either — without the
// floor, a capture of a ring's formation replayed a few seconds later was
// taken (the joins a node sent to a peer that was still starting), and the
// ring re-formed. The MaxLate bound does the same for datagrams lost on
// the way: a gap in a sequence is reordering only for a moment; later, the
// missing datagram can only come from a capture. A datagram is recorded only once it is fully accepted (HMAC,
// window, padding), so a damaged copy cannot block the genuine one, and
// the window is bounded (at most 4096 streams).
//
// Why it holds, and where it stops:
//
//   - Every datagram is accepted at most once per receiver life: within an
//     epoch by the window, across epochs because a receiver never goes
//     back to a lower epoch. A capture replayed to the node it was meant
//     for is refused as a duplicate; one for a single node, replayed to
//     any other, as misdirected. A multicast a member never got (lost on
//     its way there) can reach it from a capture of another member's copy
//     within MaxLate, once: what the genuine datagram arriving late would
//     have done, and what Totem's retransmission delivers anyway.
//   - A restarted sender is accepted at once: its new epoch is higher than
//     any it used before, so receivers that knew the old one switch to it
//     on its first datagram, and from then on refuse the old life entirely.
//   - A receiver that has not yet heard a restarted sender's new epoch
//     still accepts, once each, old-life datagrams sealed for it that it
//     never got and that are newer than the newest it got (the last ones
//     the sender sent before it stopped, lost on the way or held back by
//     the attacker). Everything else of the old life is refused: what it
//     got as duplicates, older gaps as late, datagrams for other members
//     as misdirected.
//   - Trust on first use: a receiver that has just started knows no epoch.
//     Until the real sender's first datagram reaches it, a capture of that
//     sender from any earlier life is accepted — each datagram once, in
//     increasing order — and then the real, higher epoch (or sequence)
//     takes over. In a live udpu ring every member sends to every nodelist
//     member several times a second, so this lasts well under a second;
//     for a sender that is down it lasts until the sender comes back, and
//     an attacker holding a capture of N datagrams can make a restarted
//     receiver act on each of them once. Closing this needs a handshake
//     with fresh challenges (as DTLS or knet's successors do), which Totem
//     does not have.
//   - If a node restarts with its clock set back and its state file lost,
//     its new epoch is lower than the one its peers remember: they refuse
//     it (and log "epoch … is older than its current epoch …") until they
//     restart themselves. Keep the state directory, or the clock, right.
//   - Reordering deeper than WindowSize datagrams from one sender to one
//     node, or later than MaxLate, and a reordered datagram that overtook
//     the first one of an epoch, are refused like replays; Totem recovers
//     them as loss.
//   - An attacker on the path can still delay a datagram for up to MaxLate
//     or drop it, as the network itself can; Totem is built for both.
//   - Unencrypted rings have none of this: their wire is corosync's, where
//     the only defences are block_unlisted_ips and Totem's own checks.
package nsscrypto
