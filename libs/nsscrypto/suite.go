package nsscrypto

import (
	"crypto/fips140"
	"errors"
	"fmt"
)

// Cipher is a crypto_cipher value; its number is the one carried in byte 0 of
// a sealed datagram (Corosync 2.1's numbering).
type Cipher uint8

// Ciphers, numbered as on the wire.
const (
	CipherNone   Cipher = 0
	CipherAES256 Cipher = 1
	CipherAES192 Cipher = 2
	CipherAES128 Cipher = 3
	Cipher3DES   Cipher = 4
)

// Hash is a crypto_hash value; its number is the one carried in byte 1 of a
// sealed datagram.
type Hash uint8

// Hashes, numbered as on the wire.
const (
	HashNone   Hash = 0
	HashMD5    Hash = 1
	HashSHA1   Hash = 2
	HashSHA256 Hash = 3
	HashSHA384 Hash = 4
	HashSHA512 Hash = 5
)

var cipherNames = [...]string{"none", "aes256", "aes192", "aes128", "3des"}

var hashNames = [...]string{"none", "md5", "sha1", "sha256", "sha384", "sha512"}

// String returns the crypto_cipher spelling, or "cipher(N)" for an unknown value.
func (c Cipher) String() string {
	if int(c) < len(cipherNames) {
		return cipherNames[c]
	}
	return fmt.Sprintf("cipher(%d)", uint8(c))
}

// String returns the crypto_hash spelling, or "hash(N)" for an unknown value.
func (h Hash) String() string {
	if int(h) < len(hashNames) {
		return hashNames[h]
	}
	return fmt.Sprintf("hash(%d)", uint8(h))
}

// Valid reports whether c is a known cipher.
func (c Cipher) Valid() bool { return int(c) < len(cipherNames) }

// Valid reports whether h is a known hash.
func (h Hash) Valid() bool { return int(h) < len(hashNames) }

// keySize is the cipher key length in bytes.
func (c Cipher) keySize() int {
	switch c {
	case CipherAES256:
		return 32
	case CipherAES192, Cipher3DES:
		return 24
	case CipherAES128:
		return 16
	}
	return 0
}

// BlockSize is the cipher's block size in bytes (also its IV size); 0 for none.
func (c Cipher) BlockSize() int {
	switch c {
	case CipherAES256, CipherAES192, CipherAES128:
		return 16
	case Cipher3DES:
		return 8
	}
	return 0
}

// Size is the HMAC length in bytes; 0 for none.
func (h Hash) Size() int {
	switch h {
	case HashMD5:
		return 16
	case HashSHA1:
		return 20
	case HashSHA256:
		return 32
	case HashSHA384:
		return 48
	case HashSHA512:
		return 64
	}
	return 0
}

// ParseCipher reads a crypto_cipher value.
func ParseCipher(s string) (Cipher, error) {
	for i, n := range cipherNames {
		if s == n {
			return Cipher(i), nil
		}
	}
	return 0, fmt.Errorf("invalid crypto_cipher %q: should be none, aes256, aes192, aes128 or 3des", s)
}

// ParseHash reads a crypto_hash value.
func ParseHash(s string) (Hash, error) {
	for i, n := range hashNames {
		if s == n {
			return Hash(i), nil
		}
	}
	return 0, fmt.Errorf("invalid crypto_hash %q: should be none, md5, sha1, sha256, sha384 or sha512", s)
}

// Suite is the cipher and hash a ring uses. Both ends must use the same one.
type Suite struct {
	Cipher Cipher
	Hash   Hash
}

// String gives "cipher+hash", e.g. "aes256+sha256".
func (s Suite) String() string { return s.Cipher.String() + "+" + s.Hash.String() }

// Enabled reports whether frames are sealed at all (cipher or hash not none).
func (s Suite) Enabled() bool { return s.Cipher != CipherNone || s.Hash != HashNone }

// ErrCipherWithoutHash is Corosync 3.1.7's message for a cipher with hash none;
// needle never encrypts without authenticating.
var ErrCipherWithoutHash = errors.New("crypto_cipher requires crypto_hash with value other than none")

// ResolveSuite applies Corosync 3.1.7's rules to the totem keys: start from
// none/none, "secauth: on" gives aes256+sha256, then crypto_cipher and
// crypto_hash override. An empty string means the key is not set. The result
// is checked with Suite.Check.
func ResolveSuite(secauth, cipher, hash string) (Suite, error) {
	s := Suite{}
	if secauth == "on" {
		s = Suite{CipherAES256, HashSHA256}
	}
	var err error
	if cipher != "" {
		if s.Cipher, err = ParseCipher(cipher); err != nil {
			return Suite{}, err
		}
	}
	if hash != "" {
		if s.Hash, err = ParseHash(hash); err != nil {
			return Suite{}, err
		}
	}
	return s, s.Check()
}

// Check reports whether the suite can be used here: known values, a hash
// whenever there is a cipher, and, when Go's FIPS 140-3 mode is on
// (GODEBUG=fips140=on), only algorithms inside Go's validated module.
func (s Suite) Check() error {
	if !s.Cipher.Valid() {
		return fmt.Errorf("crypto suite: unknown %s", s.Cipher)
	}
	if !s.Hash.Valid() {
		return fmt.Errorf("crypto suite: unknown %s", s.Hash)
	}
	if s.Cipher != CipherNone && s.Hash == HashNone {
		return ErrCipherWithoutHash
	}
	return s.checkFIPS(fips140.Enabled())
}

// checkFIPS refuses what Go's FIPS 140-3 module does not implement: MD5,
// SHA-1 (Go keeps it outside the module; fips140=only panics on it) and
// Triple DES (withdrawn for encryption by SP 800-131A rev 2).
func (s Suite) checkFIPS(fipsMode bool) error {
	if !fipsMode {
		return nil
	}
	switch s.Hash {
	case HashMD5, HashSHA1:
		return fmt.Errorf("crypto_hash %s is not FIPS 140-3 approved in Go's FIPS module and cannot be used while FIPS mode is on (GODEBUG=fips140=on); use sha256, sha384 or sha512", s.Hash)
	}
	if s.Cipher == Cipher3DES {
		return fmt.Errorf("crypto_cipher 3des is not FIPS 140-3 approved and cannot be used while FIPS mode is on (GODEBUG=fips140=on); use aes256, aes192 or aes128")
	}
	return nil
}

// headerSize is the fixed crypto header in front of every sealed datagram.
const headerSize = 4

// formatV2 is byte 2 of the header: the layout with the sender header
// (replay protection). Needle before it sent 0 there.
const formatV2 = 1

// senderSize is the sender header after the crypto header: sender nodeid,
// destination nodeid, epoch, sequence (4+4+8+8 bytes, big-endian).
const senderSize = 24

// Overhead is how many bytes sealing adds to a frame at most: the header,
// the sender header, IV, the largest padding and the HMAC. totemd subtracts it from the MTU. It is 0
// for none/none, where frames go out unchanged.
func (s Suite) Overhead() int {
	if !s.Enabled() {
		return 0
	}
	return headerSize + senderSize + 2*s.Cipher.BlockSize() + s.Hash.Size()
}

// MaxFrame is the largest frame Seal accepts and Open returns (64 KiB, knet's
// largest MTU; UDP cannot carry more).
const MaxFrame = 64 << 10
