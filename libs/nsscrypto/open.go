package nsscrypto

import (
	"crypto/cipher"
	"crypto/hmac"
	"errors"
	"fmt"
	"hash"
	"slices"
)

// Reasons Open rejects a datagram; the returned error wraps one of them and
// says what was wrong. All are normal network conditions: drop and count.
var (
	ErrTooShort      = errors.New("datagram too short")
	ErrTooLong       = errors.New("datagram too long")
	ErrSuiteMismatch = errors.New("incoming packet has different crypto type")
	ErrHeader        = errors.New("crypto header uses features not supported by this version")
	ErrDigest        = errors.New("digest does not match")
	ErrCiphertext    = errors.New("ciphertext is not a whole number of blocks")
	ErrPadding       = errors.New("bad padding after decryption")
)

// Opener checks and decrypts datagrams. It keeps per-call scratch state, so
// one Opener must not be used by two goroutines at once.
type Opener struct {
	keys *Keys
	mac  hash.Hash
	sum  []byte
}

// Open appends the Totem frame carried by datagram to dst and returns the
// result; dst must not overlap datagram. It checks, in this order, the length,
// the header (types equal to ours, pad bytes zero), the HMAC in constant time,
// and only then decrypts and checks the padding. With none/none the datagram
// is the frame. On error dst is returned unchanged.
func (o *Opener) Open(dst, datagram []byte) ([]byte, error) {
	su := o.keys.suite
	n := len(datagram)
	if n > MaxFrame+su.Overhead() {
		return dst, fmt.Errorf("open: %d bytes, at most %d allowed: %w", n, MaxFrame+su.Overhead(), ErrTooLong)
	}
	if !su.Enabled() {
		return append(dst, datagram...), nil
	}
	bs, hs := su.Cipher.BlockSize(), su.Hash.Size()
	minLen := headerSize + hs
	if bs > 0 {
		minLen += 2 * bs // IV and at least one padded block
	}
	if n < headerSize {
		return dst, fmt.Errorf("open: %d bytes, shorter than the %d-byte crypto header: %w", n, headerSize, ErrTooShort)
	}
	if got := (Suite{Cipher(datagram[0]), Hash(datagram[1])}); got != su {
		return dst, fmt.Errorf("open: packet uses %s, this node %s: %w", got, su, ErrSuiteMismatch)
	}
	if datagram[2] != 0 || datagram[3] != 0 {
		return dst, fmt.Errorf("open: header pad bytes %#02x %#02x, want 0 0: %w", datagram[2], datagram[3], ErrHeader)
	}
	if n < minLen {
		return dst, fmt.Errorf("open: %d bytes, %s needs at least %d: %w", n, su, minLen, ErrTooShort)
	}
	body := datagram[headerSize : n-hs]
	if bs > 0 && (len(body)-bs)%bs != 0 {
		return dst, fmt.Errorf("open: %d ciphertext bytes for %d-byte blocks: %w", len(body)-bs, bs, ErrCiphertext)
	}

	o.mac.Reset()
	o.mac.Write(datagram[:n-hs])
	o.sum = o.mac.Sum(o.sum[:0])
	if !hmac.Equal(o.sum, datagram[n-hs:]) {
		return dst, fmt.Errorf("open: HMAC-%s over %d bytes: %w", su.Hash, n-hs, ErrDigest)
	}
	if bs == 0 {
		return append(dst, body...), nil
	}

	iv, ct := body[:bs], body[bs:]
	start := len(dst)
	out := slices.Grow(dst, len(ct))[:start+len(ct)]
	pt := out[start:]
	cipher.NewCBCDecrypter(o.keys.block, iv).CryptBlocks(pt, ct)
	pad := int(pt[len(pt)-1])
	if pad == 0 || pad > bs {
		return dst, fmt.Errorf("open: padding length %d for %d-byte blocks: %w", pad, bs, ErrPadding)
	}
	for _, b := range pt[len(pt)-pad:] {
		if int(b) != pad {
			return dst, fmt.Errorf("open: padding bytes differ from length %d: %w", pad, ErrPadding)
		}
	}
	return out[:len(out)-pad], nil
}
