// Package nsscrypto seals and opens Totem frames for encrypted needle rings,
// loads the cluster authkey with Corosync 3.1.7's rules, and checks which
// algorithms Go's FIPS 140-3 mode allows.
//
// Real corosync 3.x has no crypto on udp/udpu, so a sealed ring is
// needle-only; with cipher and hash both "none" a frame passes through
// unchanged and the ring interoperates with corosync.
//
// # Sealed datagram layout (needle v1)
//
//	off   size  field
//	0     1     cipher type: 0 none, 1 aes256, 2 aes192, 3 aes128, 4 3des
//	1     1     hash type:   0 none, 1 md5, 2 sha1, 3 sha256, 4 sha384, 5 sha512
//	2     1     pad0, must be 0
//	3     1     pad1, must be 0
//	4     B     IV, fresh random bytes per datagram (B = cipher block size:
//	            16 for AES, 8 for 3DES; absent with cipher none)
//	4+B   n     CBC ciphertext of the frame with PKCS#7 padding (1..B bytes,
//	            a whole block when the frame is a multiple of B), or the
//	            plain frame with cipher none
//	end-H H     HMAC-<hash>(mac key, every byte before it, header included);
//	            H = 16/20/32/48/64 for md5/sha1/sha256/sha384/sha512
//
// The header is Corosync 2.x's (types in every datagram, so a peer with other
// settings is told apart from a forgery); the HMAC sits at the end and covers
// the header as in Corosync 2.3+ (encrypt-then-MAC). Unlike Corosync 2.0.0,
// the HMAC is always keyed, and a cipher without a hash is refused.
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
// decrypts anything, so a forged datagram never reaches the cipher.
package nsscrypto
