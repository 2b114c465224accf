package nsscrypto

import (
	"bytes"
	"crypto/fips140"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// now is the receive time the tests hand to Open.
func now() time.Time { return time.Now() }

// allSuites is every cipher×hash combination NewKeys accepts outside FIPS mode.
func allSuites() []Suite {
	var out []Suite
	for c := CipherNone; c.Valid(); c++ {
		for h := HashNone; h.Valid(); h++ {
			s := Suite{c, h}
			if s.Check() == nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// testKey is a fixed 256-byte authkey (corosync-keygen's default size).
func testKey(seed uint64) []byte {
	k := make([]byte, 256)
	rand.NewChaCha8([32]byte{byte(seed), 1}).Read(k)
	return k
}

func seeded(seed byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{seed}) }

func mustKeys(t testing.TB, s Suite, key []byte) *Keys {
	t.Helper()
	k, err := NewKeys(s, key)
	if err != nil {
		t.Fatalf("NewKeys(%s): %v", s, err)
	}
	return k
}

func TestSuiteCount(t *testing.T) {
	// 5 ciphers × 6 hashes, minus the 4 ciphers with hash none; in FIPS mode
	// none/none and {none, 3 AES} × {sha256, sha384, sha512}.
	want := 26
	if fips140.Enabled() {
		want = 13
	}
	if got := len(allSuites()); got != want {
		t.Fatalf("%d suites, want %d", got, want)
	}
}

func TestRoundTripEverySuite(t *testing.T) {
	sizes := []int{0, 1, 7, 8, 15, 16, 17, 100, 1024, 1455, MaxFrame}
	for _, su := range allSuites() {
		t.Run(su.String(), func(t *testing.T) {
			k := mustKeys(t, su, testKey(1))
			s, o := k.NewSealer(seeded(1), 1, 7), k.NewOpener(2)
			for _, n := range sizes {
				frame := make([]byte, n)
				seeded(byte(n)).Read(frame)
				dg, err := s.Seal(nil, frame, 2)
				if err != nil {
					t.Fatalf("seal %d: %v", n, err)
				}
				if extra := len(dg) - n; extra > su.Overhead() || extra < 0 {
					t.Fatalf("seal %d: %d bytes added, overhead %d", n, extra, su.Overhead())
				}
				if su.Cipher != CipherNone && n >= 16 && bytes.Contains(dg, frame[:16]) {
					t.Fatalf("seal %d: plaintext visible in datagram", n)
				}
				got, err := o.Open([]byte("prefix"), dg, now())
				if err != nil {
					t.Fatalf("open %d: %v", n, err)
				}
				if !bytes.Equal(got, append([]byte("prefix"), frame...)) {
					t.Fatalf("open %d: frame differs", n)
				}
			}
		})
	}
}

func TestOverhead(t *testing.T) {
	for _, tc := range []struct {
		s    Suite
		want int
	}{
		{Suite{}, 0},
		// 2.0.0 reserved 56 for aes256+sha1; the sender header adds 24.
		{Suite{CipherNone, HashSHA1}, 48},
		{Suite{CipherAES256, HashSHA1}, 80},
		{Suite{CipherAES256, HashSHA256}, 92},
		{Suite{CipherAES128, HashSHA512}, 124},
		{Suite{Cipher3DES, HashMD5}, 60},
	} {
		if got := tc.s.Overhead(); got != tc.want {
			t.Errorf("%s overhead %d, want %d", tc.s, got, tc.want)
		}
		// The bound is reached: a frame that is a multiple of the block size.
		if !tc.s.Enabled() || tc.s.Check() != nil {
			continue
		}
		k := mustKeys(t, tc.s, testKey(2))
		dg, err := k.NewSealer(seeded(2), 1, 7).Seal(nil, make([]byte, 64), 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(dg)-64 != tc.want {
			t.Errorf("%s: 64-byte frame grew by %d, want %d", tc.s, len(dg)-64, tc.want)
		}
	}
}

func TestSealDeterministicWithSeed(t *testing.T) {
	k := mustKeys(t, Suite{CipherAES256, HashSHA256}, testKey(3))
	frame := []byte("totem frame")
	a, _ := k.NewSealer(seeded(9), 1, 7).Seal(nil, frame, 2)
	b, _ := k.NewSealer(seeded(9), 1, 7).Seal(nil, frame, 2)
	c, _ := k.NewSealer(seeded(10), 1, 7).Seal(nil, frame, 2)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed gave different datagrams")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same datagram")
	}
	s := k.NewSealer(seeded(9), 1, 7)
	d1, _ := s.Seal(nil, frame, 2)
	d2, _ := s.Seal(nil, frame, 2)
	if bytes.Equal(d1[28:44], d2[28:44]) {
		t.Fatal("IV repeated between two datagrams")
	}
}

func TestHeaderLayout(t *testing.T) {
	k := mustKeys(t, Suite{CipherAES192, HashSHA384}, testKey(4))
	s := k.NewSealer(seeded(4), 0x01020304, 0x1122334455667788)
	if _, err := s.Seal(nil, nil, 9); err != nil { // the sequence counts per destination
		t.Fatal(err)
	}
	dg, _ := s.Seal(nil, make([]byte, 10), 0x0a0b0c0d)
	if !bytes.Equal(dg[:4], []byte{2, 4, 1, 0}) {
		t.Fatalf("header % x, want 02 04 01 00", dg[:4])
	}
	sender := []byte{1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 0, 0, 0, 1}
	if !bytes.Equal(dg[4:28], sender) {
		t.Fatalf("sender header % x, want % x", dg[4:28], sender)
	}
	iv := make([]byte, 32)
	seeded(4).Read(iv)
	if !bytes.Equal(dg[28:44], iv[16:]) {
		t.Fatalf("IV % x, want the second 16 random bytes % x", dg[28:44], iv[16:])
	}
	if len(dg) != 4+24+16+16+48 {
		t.Fatalf("len %d, want %d", len(dg), 4+24+16+16+48)
	}
}

func TestNoneIsIdentity(t *testing.T) {
	k := mustKeys(t, Suite{}, nil)
	frame := []byte{0x70, 0xc0, 3, 0}
	dg, err := k.NewSealer(nil, 1, 7).Seal(nil, frame, 2)
	if err != nil || !bytes.Equal(dg, frame) {
		t.Fatalf("seal none: % x, %v", dg, err)
	}
	got, err := k.NewOpener(2).Open(nil, frame, now())
	if err != nil || !bytes.Equal(got, frame) {
		t.Fatalf("open none: % x, %v", got, err)
	}
}

// TestTamperEveryByte flips each bit position of each byte of a sealed
// datagram and expects Open to refuse it.
func TestTamperEveryByte(t *testing.T) {
	for _, su := range allSuites() {
		if !su.Enabled() {
			continue
		}
		t.Run(su.String(), func(t *testing.T) {
			k := mustKeys(t, su, testKey(5))
			o := k.NewOpener(2)
			dg, err := k.NewSealer(seeded(5), 1, 7).Seal(nil, []byte("a Totem frame of some 40 bytes, or so..."), 2)
			if err != nil {
				t.Fatal(err)
			}
			bad := make([]byte, len(dg))
			for i := range dg {
				for _, flip := range []byte{0x01, 0x80, 0xff} {
					copy(bad, dg)
					bad[i] ^= flip
					if got, err := o.Open(nil, bad, now()); err == nil {
						t.Fatalf("byte %d ^ %#x accepted: % x", i, flip, got)
					}
				}
			}
		})
	}
}

func TestWrongKeyRejected(t *testing.T) {
	for _, su := range allSuites() {
		if !su.Enabled() {
			continue
		}
		dg, _ := mustKeys(t, su, testKey(6)).NewSealer(seeded(6), 1, 7).Seal(nil, []byte("frame"), 2)
		other := testKey(6)
		other[200] ^= 1 // a byte no cipher key length would reach directly
		_, err := mustKeys(t, su, other).NewOpener(2).Open(nil, dg, now())
		if !errors.Is(err, ErrDigest) {
			t.Errorf("%s: wrong key gave %v, want ErrDigest", su, err)
		}
	}
}

func TestSuiteMismatchRejected(t *testing.T) {
	key := testKey(7)
	dg, _ := mustKeys(t, Suite{CipherAES256, HashSHA256}, key).NewSealer(seeded(7), 1, 7).Seal(nil, []byte("frame"), 2)
	for _, other := range []Suite{{CipherAES128, HashSHA256}, {CipherAES256, HashSHA512}, {CipherNone, HashSHA256}} {
		_, err := mustKeys(t, other, key).NewOpener(2).Open(nil, dg, now())
		if !errors.Is(err, ErrSuiteMismatch) {
			t.Errorf("%s opening aes256+sha256: %v, want ErrSuiteMismatch", other, err)
		}
		want := fmt.Sprintf("open: packet uses aes256+sha256, this node %s: incoming packet has different crypto type", other)
		if err == nil || err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
	}
	// A plain 3.x Totem frame (magic 70 c0) reaching an encrypted node.
	_, err := mustKeys(t, Suite{CipherAES256, HashSHA256}, key).NewOpener(2).Open(nil, []byte{0x70, 0xc0, 3, 0, 2, 0, 0, 0, 1}, now())
	if !errors.Is(err, ErrSuiteMismatch) {
		t.Errorf("plain frame: %v", err)
	}
}

func TestLengthLimits(t *testing.T) {
	for _, su := range allSuites() {
		k := mustKeys(t, su, testKey(8))
		s, o := k.NewSealer(seeded(8), 1, 7), k.NewOpener(2)
		if _, err := s.Seal(nil, make([]byte, MaxFrame+1), 2); err == nil {
			t.Errorf("%s: sealed a frame over MaxFrame", su)
		}
		if _, err := o.Open(nil, make([]byte, MaxFrame+su.Overhead()+1), now()); !errors.Is(err, ErrTooLong) {
			t.Errorf("%s: oversize datagram gave %v", su, err)
		}
		if !su.Enabled() {
			continue
		}
		dg, _ := s.Seal(nil, []byte("0123456789abcdef0123"), 2)
		for n := range len(dg) {
			if _, err := o.Open(nil, dg[:n], now()); err == nil {
				t.Errorf("%s: truncated to %d of %d bytes accepted", su, n, len(dg))
			}
		}
		if _, err := o.Open(nil, append(dg, 0), now()); err == nil {
			t.Errorf("%s: datagram with a trailing byte accepted", su)
		}
	}
}

func TestShortMessages(t *testing.T) {
	o := mustKeys(t, Suite{CipherAES256, HashSHA256}, testKey(9)).NewOpener(2)
	for _, tc := range []struct {
		in   []byte
		want error
	}{
		{nil, ErrTooShort},
		{[]byte{1, 3, 0}, ErrTooShort},
		{[]byte{1, 3, 1, 0}, ErrTooShort},
		{[]byte{1, 3, 0, 0}, ErrHeader}, // needle before replay protection
		{append([]byte{1, 3, 0, 0}, make([]byte, 24+16+16+32)...), ErrHeader},
		{[]byte{1, 3, 1, 1}, ErrHeader},
		{[]byte{1, 3, 7, 0}, ErrHeader},
		{[]byte{9, 3, 1, 0}, ErrSuiteMismatch},
		{append([]byte{1, 3, 1, 0}, make([]byte, 24+16+16+31)...), ErrTooShort},
		{append([]byte{1, 3, 1, 0}, make([]byte, 24+16+16+32)...), ErrDigest},
		{append([]byte{1, 3, 1, 0}, make([]byte, 24+16+17+32)...), ErrCiphertext},
	} {
		_, err := o.Open(nil, tc.in, now())
		if !errors.Is(err, tc.want) {
			t.Errorf("Open(% x): %v, want %v", tc.in, err, tc.want)
		}
	}
}

// TestBadPaddingAfterValidMAC builds datagrams with a correct HMAC over a
// ciphertext whose padding is wrong: only a holder of the key could send one,
// but Open must still refuse it without panicking.
func TestBadPaddingAfterValidMAC(t *testing.T) {
	su := Suite{CipherAES128, HashSHA256}
	k := mustKeys(t, su, testKey(10))
	for _, last := range []byte{0, 17, 255} {
		dg, _ := k.NewSealer(seeded(10), 1, 7).Seal(nil, make([]byte, 15), 2) // one block, pad 1
		// Decrypt, corrupt the pad byte, re-encrypt and re-MAC by hand.
		body := dg[28 : len(dg)-32]
		iv, ct := body[:16], body[16:]
		pt := make([]byte, 16)
		k.block.Decrypt(pt, ct)
		for i := range pt {
			pt[i] ^= iv[i]
		}
		pt[15] = last
		for i := range pt {
			pt[i] ^= iv[i]
		}
		k.block.Encrypt(ct, pt)
		m := k.newMAC()
		m.Write(dg[:len(dg)-32])
		copy(dg[len(dg)-32:], m.Sum(nil))
		if _, err := k.NewOpener(2).Open(nil, dg, now()); !errors.Is(err, ErrPadding) {
			t.Errorf("pad byte %d: %v, want ErrPadding", last, err)
		}
	}
}

func TestKeysDifferPerSuite(t *testing.T) {
	key := testKey(11)
	a := mustKeys(t, Suite{CipherAES256, HashSHA256}, key)
	b := mustKeys(t, Suite{CipherAES256, HashSHA512}, key)
	if bytes.Equal(a.macKey, b.macKey[:32]) {
		t.Fatal("two suites share HMAC key material")
	}
	ct1, ct2 := make([]byte, 16), make([]byte, 16)
	a.block.Encrypt(ct1, make([]byte, 16))
	b.block.Encrypt(ct2, make([]byte, 16))
	if bytes.Equal(ct1, ct2) {
		t.Fatal("two suites share the cipher key")
	}
}

func TestNewKeysErrors(t *testing.T) {
	for _, tc := range []struct {
		s    Suite
		key  []byte
		want string
	}{
		{Suite{CipherAES256, HashNone}, testKey(1), "crypto_cipher requires crypto_hash with value other than none"},
		{Suite{CipherAES256, HashSHA384}, make([]byte, 127), "crypto aes256+sha384: authkey has 127 bytes, want 128..4096"},
		{Suite{CipherAES256, HashSHA384}, make([]byte, 4097), "crypto aes256+sha384: authkey has 4097 bytes, want 128..4096"},
		{Suite{Cipher(5), HashSHA256}, testKey(1), "crypto suite: unknown cipher(5)"},
		{Suite{CipherNone, Hash(6)}, testKey(1), "crypto suite: unknown hash(6)"},
	} {
		_, err := NewKeys(tc.s, tc.key)
		if err == nil || err.Error() != tc.want {
			t.Errorf("NewKeys(%s, %d bytes) = %v, want %q", tc.s, len(tc.key), err, tc.want)
		}
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("entropy gone") }

func TestSealRandomFailure(t *testing.T) {
	k := mustKeys(t, Suite{CipherAES256, HashSHA256}, testKey(12))
	dst := []byte("keep")
	out, err := k.NewSealer(failReader{}, 1, 7).Seal(dst, []byte("x"), 2)
	if err == nil || err.Error() != "seal: read 16-byte IV: entropy gone" {
		t.Fatalf("err %v", err)
	}
	if string(out) != "keep" {
		t.Fatalf("dst changed to %q", out)
	}
}
