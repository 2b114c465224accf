package nsscrypto

import (
	"crypto/fips140"
	"strings"
	"testing"
)

func TestResolveSuite(t *testing.T) {
	for _, tc := range []struct {
		secauth, cipher, hash string
		want                  Suite
		err                   string
	}{
		{"", "", "", Suite{}, ""},
		{"off", "", "", Suite{}, ""},
		{"on", "", "", Suite{CipherAES256, HashSHA256}, ""},
		{"yes", "", "", Suite{}, ""}, // only "on" counts, as in 3.1.7
		{"on", "aes128", "", Suite{CipherAES128, HashSHA256}, ""},
		{"on", "", "sha512", Suite{CipherAES256, HashSHA512}, ""},
		{"on", "none", "none", Suite{}, ""},
		{"", "none", "md5", Suite{CipherNone, HashMD5}, ""},
		{"", "aes192", "sha384", Suite{CipherAES192, HashSHA384}, ""},
		{"", "3des", "sha1", Suite{Cipher3DES, HashSHA1}, ""},
		{"", "aes256", "", Suite{}, "crypto_cipher requires crypto_hash with value other than none"},
		{"on", "", "none", Suite{}, "crypto_cipher requires crypto_hash with value other than none"},
		{"", "aes512", "sha1", Suite{}, `invalid crypto_cipher "aes512": should be none, aes256, aes192, aes128 or 3des`},
		{"", "aes256", "SHA1", Suite{}, `invalid crypto_hash "SHA1": should be none, md5, sha1, sha256, sha384 or sha512`},
	} {
		got, err := ResolveSuite(tc.secauth, tc.cipher, tc.hash)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ResolveSuite(%q,%q,%q) error %v, want %q", tc.secauth, tc.cipher, tc.hash, err, tc.err)
			}
			continue
		}
		if fips140.Enabled() && tc.want.checkFIPS(true) != nil {
			if err == nil || !strings.Contains(err.Error(), "FIPS") {
				t.Errorf("ResolveSuite(%q,%q,%q) in FIPS mode: %v, want a FIPS refusal", tc.secauth, tc.cipher, tc.hash, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ResolveSuite(%q,%q,%q) = %s, %v; want %s", tc.secauth, tc.cipher, tc.hash, got, err, tc.want)
		}
	}
}

func TestNamesRoundTrip(t *testing.T) {
	for c := CipherNone; c.Valid(); c++ {
		if got, err := ParseCipher(c.String()); err != nil || got != c {
			t.Errorf("cipher %d: %v %v", c, got, err)
		}
	}
	for h := HashNone; h.Valid(); h++ {
		if got, err := ParseHash(h.String()); err != nil || got != h {
			t.Errorf("hash %d: %v %v", h, got, err)
		}
	}
	if Cipher(7).String() != "cipher(7)" || Hash(200).String() != "hash(200)" {
		t.Error("unknown values must print their number")
	}
}

// TestCheckFIPS checks the FIPS rule without FIPS mode; fips_test.go runs the
// real thing under GODEBUG=fips140=on.
func TestCheckFIPS(t *testing.T) {
	for _, tc := range []struct {
		s  Suite
		ok bool
	}{
		{Suite{}, true},
		{Suite{CipherAES256, HashSHA256}, true},
		{Suite{CipherAES192, HashSHA384}, true},
		{Suite{CipherAES128, HashSHA512}, true},
		{Suite{CipherNone, HashSHA256}, true},
		{Suite{CipherAES256, HashSHA1}, false},
		{Suite{CipherAES256, HashMD5}, false},
		{Suite{CipherNone, HashMD5}, false},
		{Suite{Cipher3DES, HashSHA256}, false},
	} {
		if err := tc.s.checkFIPS(true); (err == nil) != tc.ok {
			t.Errorf("%s in FIPS mode: %v", tc.s, err)
		}
		if err := tc.s.checkFIPS(false); err != nil {
			t.Errorf("%s outside FIPS mode: %v", tc.s, err)
		}
	}
}
