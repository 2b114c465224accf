package nsscrypto

import (
	"crypto/fips140"
	"crypto/rand"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestFIPSMode re-runs this test binary with GODEBUG=fips140=on and with
// fips140=only (where Go panics on any algorithm outside its FIPS module), and
// has TestFIPSChild check the real behaviour there.
func TestFIPSMode(t *testing.T) {
	if os.Getenv("NSSCRYPTO_FIPS_CHILD") != "" {
		t.Skip("already the child")
	}
	for _, mode := range []string{"on", "only"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFIPSChild$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "GODEBUG=fips140="+mode, "NSSCRYPTO_FIPS_CHILD="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fips140=%s child failed: %v\n%s", mode, err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestFIPSChild") {
			t.Fatalf("fips140=%s child did not run:\n%s", mode, out)
		}
	}
}

func TestFIPSChild(t *testing.T) {
	mode := os.Getenv("NSSCRYPTO_FIPS_CHILD")
	if mode == "" {
		t.Skip("run by TestFIPSMode")
	}
	if !fips140.Enabled() {
		t.Fatal("GODEBUG=fips140 did not enable FIPS mode")
	}
	key := make([]byte, 256)
	rand.Read(key)
	approved := 0
	for c := CipherNone; c.Valid(); c++ {
		for h := HashNone; h.Valid(); h++ {
			s := Suite{c, h}
			if c != CipherNone && h == HashNone {
				continue
			}
			k, err := NewKeys(s, key)
			bad := h == HashMD5 || h == HashSHA1 || c == Cipher3DES
			if bad {
				if err == nil || !strings.Contains(err.Error(), "is not FIPS 140-3 approved") ||
					!strings.Contains(err.Error(), "GODEBUG=fips140=on") {
					t.Errorf("%s: error %v, want a FIPS refusal", s, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", s, err)
				continue
			}
			// crypto/rand.Reader is the production source, and the one
			// fips140=only expects.
			dg, err := k.NewSealer(rand.Reader, 1, 7).Seal(nil, []byte("frame under FIPS"), 2)
			if err != nil {
				t.Fatalf("%s seal: %v", s, err)
			}
			got, err := k.NewOpener(2).Open(nil, dg, now())
			if err != nil || string(got) != "frame under FIPS" {
				t.Fatalf("%s open: %q %v", s, got, err)
			}
			approved++
		}
	}
	// none/none plus {none,aes256,aes192,aes128} × {sha256,sha384,sha512}.
	if approved != 13 {
		t.Fatalf("%d suites worked in fips140=%s, want 13", approved, mode)
	}
	_, err := NewKeys(Suite{CipherAES256, HashMD5}, key)
	t.Logf("fips140=%s: aes256+md5 refused: %v", mode, err)
}
