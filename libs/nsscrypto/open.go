package nsscrypto

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"time"
)

// Reasons Open rejects a datagram; the returned error wraps one of them (or
// ErrReplay, ErrMisdirected, ErrTooMany) and says what was wrong. All are
// normal network conditions: drop and count.
var (
	ErrTooShort      = errors.New("datagram too short")
	ErrTooLong       = errors.New("datagram too long")
	ErrSuiteMismatch = errors.New("incoming packet has different crypto type")
	ErrHeader        = errors.New("crypto header uses features not supported by this version")
	ErrDigest        = errors.New("digest does not match")
	ErrCiphertext    = errors.New("ciphertext is not a whole number of blocks")
	ErrPadding       = errors.New("bad padding after decryption")
)

// Opener checks and decrypts datagrams and remembers which it accepted. It
// keeps per-call scratch state and the replay window, so one Opener must
// not be used by two goroutines at once, and a node must open everything
// it receives with one Opener (a second one would accept each datagram
// once more).
type Opener struct {
	keys *Keys
	mac  hash.Hash // reused: Reset per datagram
	dec  cbcDecrypter
	sum  []byte
	self uint32
	win  replayWindow
}

// Origin is what the sender header of an accepted datagram said.
type Origin struct {
	Sender, To uint32
	Epoch, Seq uint64
}

// Open appends the Totem frame carried by datagram, received at now (a
// time with a monotonic reading: time.Now()), to dst and returns the
// result; dst must not overlap datagram. It checks, in this order, the length,
// the header (types equal to ours, format 1, pad byte zero), the HMAC in
// constant time, the destination, the replay window, and only then decrypts
// and checks the padding; the window records the datagram only once all of
// that passed. With none/none the datagram is the frame. On error dst is
// returned unchanged (bytes past its length may have been written). Open
// allocates nothing when dst has room for the frame, which is never longer
// than the datagram: the transport opens a whole receive batch into one
// buffer.
func (o *Opener) Open(dst, datagram []byte, now time.Time) ([]byte, error) {
	out, _, err := o.OpenFrom(dst, datagram, now)
	return out, err
}

// OpenFrom is Open that also returns the sender header (zero with
// none/none).
func (o *Opener) OpenFrom(dst, datagram []byte, now time.Time) ([]byte, Origin, error) {
	su := o.keys.suite
	n := len(datagram)
	if n > MaxFrame+su.Overhead() {
		return dst, Origin{}, fmt.Errorf("open: %d bytes, at most %d allowed: %w", n, MaxFrame+su.Overhead(), ErrTooLong)
	}
	if !su.Enabled() {
		return append(dst, datagram...), Origin{}, nil
	}
	bs, hs := su.Cipher.BlockSize(), su.Hash.Size()
	minLen := headerSize + senderSize + hs
	if bs > 0 {
		minLen += 2 * bs // IV and at least one padded block
	}
	if n < headerSize {
		return dst, Origin{}, fmt.Errorf("open: %d bytes, shorter than the %d-byte crypto header: %w", n, headerSize, ErrTooShort)
	}
	if got := (Suite{Cipher(datagram[0]), Hash(datagram[1])}); got != su {
		return dst, Origin{}, fmt.Errorf("open: packet uses %s, this node %s: %w", got, su, ErrSuiteMismatch)
	}
	if datagram[2] != formatV2 || datagram[3] != 0 {
		why := ""
		if datagram[2] == 0 && datagram[3] == 0 {
			why = " (format 0: a needle without replay protection)"
		}
		return dst, Origin{}, fmt.Errorf("open: header bytes %#02x %#02x, want %#02x 0%s: %w", datagram[2], datagram[3], formatV2, why, ErrHeader)
	}
	if n < minLen {
		return dst, Origin{}, fmt.Errorf("open: %d bytes, %s needs at least %d: %w", n, su, minLen, ErrTooShort)
	}
	body := datagram[headerSize+senderSize : n-hs]
	if bs > 0 && (len(body)-bs)%bs != 0 {
		return dst, Origin{}, fmt.Errorf("open: %d ciphertext bytes for %d-byte blocks: %w", len(body)-bs, bs, ErrCiphertext)
	}

	o.mac.Reset()
	o.mac.Write(datagram[:n-hs])
	o.sum = o.mac.Sum(o.sum[:0])
	if !hmac.Equal(o.sum, datagram[n-hs:]) {
		return dst, Origin{}, fmt.Errorf("open: HMAC-%s over %d bytes: %w", su.Hash, n-hs, ErrDigest)
	}

	h := datagram[headerSize : headerSize+senderSize]
	org := Origin{
		Sender: binary.BigEndian.Uint32(h[0:4]), To: binary.BigEndian.Uint32(h[4:8]),
		Epoch: binary.BigEndian.Uint64(h[8:16]), Seq: binary.BigEndian.Uint64(h[16:24]),
	}
	if org.To != 0 && org.To != o.self {
		return dst, org, fmt.Errorf("open: from node %d, sealed for node %d, this is node %d: %w", org.Sender, org.To, o.self, ErrMisdirected)
	}
	key := streamKey{sender: org.Sender, group: org.To == 0}
	if err := o.win.check(key, org.Epoch, org.Seq, now); err != nil {
		return dst, org, fmt.Errorf("open: %w", err)
	}

	out := dst
	if bs == 0 {
		out = append(dst, body...)
	} else {
		start := len(dst)
		out = slices.Grow(dst, len(body)-bs)[:start+len(body)-bs]
		pt := out[start:]
		o.dec.decrypt(pt, body)
		pad := int(pt[len(pt)-1])
		if pad == 0 || pad > bs {
			return dst, org, fmt.Errorf("open: padding length %d for %d-byte blocks: %w", pad, bs, ErrPadding)
		}
		for _, b := range pt[len(pt)-pad:] {
			if int(b) != pad {
				return dst, org, fmt.Errorf("open: padding bytes differ from length %d: %w", pad, ErrPadding)
			}
		}
		out = out[:len(out)-pad]
	}
	o.win.accept(key, org.Epoch, org.Seq, now)
	return out, org, nil
}
