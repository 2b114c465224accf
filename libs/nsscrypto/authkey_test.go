package nsscrypto

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// keyFileCase is one authkey file; want is the message corosync 3.1.7 logs for
// it (recorded from `corosync -t` with crypto_cipher aes256, crypto_hash
// sha256), "" when it accepts the key.
type keyFileCase struct {
	name   string
	size   int // -1: no file; -2: a directory
	want   string
	keyLen int
}

var keyFileCases = []keyFileCase{
	{"k0", 0, "Could only read 0 bits of minimum 1024 bits from %s.", 0},
	{"k100", 100, "Could only read 800 bits of minimum 1024 bits from %s.", 0},
	{"k127", 127, "Could only read 1016 bits of minimum 1024 bits from %s.", 0},
	{"k128", 128, "", 128},
	{"k256", 256, "", 256},
	{"k4096", 4096, "", 4096},
	{"k5000", 5000, "", 4096}, // the rest is ignored, no error
	{"missing", -1, "Could not open %s: No such file or directory", 0},
	{"dir", -2, "Could not read %s: Is a directory", 0},
}

func makeKeyFile(t *testing.T, dir string, c keyFileCase) string {
	t.Helper()
	p := filepath.Join(dir, c.name)
	switch {
	case c.size == -2:
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
	case c.size >= 0:
		data := bytes.Repeat([]byte{0xa5}, c.size)
		if err := os.WriteFile(p, data, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	for _, c := range keyFileCases {
		p := makeKeyFile(t, dir, c)
		key, warn, err := ReadKeyFile(p)
		if c.want != "" {
			want := fmt.Sprintf(c.want, p)
			var ke *KeyError
			if err == nil || err.Error() != want || !errors.As(err, &ke) {
				t.Errorf("%s: error %v, want %q", c.name, err, want)
			}
			continue
		}
		if err != nil || len(key) != c.keyLen || warn != "" {
			t.Errorf("%s: %d bytes, warning %q, error %v; want %d bytes", c.name, len(key), warn, err, c.keyLen)
		}
	}
	_, _, err := ReadKeyFile(filepath.Join(dir, "missing"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file error does not unwrap to fs.ErrNotExist: %v", err)
	}
}

func TestKeyFileModeWarning(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode fs.FileMode
		warn bool
	}{
		{0o400, false}, {0o600, false}, {0o700, false},
		{0o440, true}, {0o404, true}, {0o620, true}, {0o644, true}, {0o602, true},
	} {
		p := filepath.Join(dir, fmt.Sprintf("key%o", tc.mode))
		if err := os.WriteFile(p, make([]byte, 128), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		_, warn, err := ReadKeyFile(p)
		if err != nil {
			t.Fatalf("%o: %v", tc.mode, err)
		}
		if (warn != "") != tc.warn {
			t.Errorf("mode %04o: warning %q, want warning %v", tc.mode, warn, tc.warn)
		}
		if tc.warn && warn != fmt.Sprintf("authkey %s has mode %04o: group or others can read or change it; it should be 0400 (chmod 0400 %s)", p, tc.mode, p) {
			t.Errorf("warning text %q", warn)
		}
	}
}

// keyValueCases: totem.key values; corosync 3.1.7 counts the terminating NUL,
// so 127 characters is the shortest accepted [verified with corosync -t].
var keyValueCases = []struct {
	n    int
	want string
}{
	{10, "key is too short"},
	{126, "key is too short"},
	{127, ""},
	{128, ""},
	{400, ""},
	{4095, ""},
	{4096, "key is too long"},
}

func TestKeyFromValue(t *testing.T) {
	for _, c := range keyValueCases {
		key, err := KeyFromValue(strings.Repeat("a", c.n))
		if c.want != "" {
			if err == nil || err.Error() != c.want {
				t.Errorf("%d chars: %v, want %q", c.n, err, c.want)
			}
			continue
		}
		if err != nil || len(key) != c.n+1 || key[c.n] != 0 {
			t.Errorf("%d chars: %d bytes %v", c.n, len(key), err)
		}
	}
}

func TestLoadKeyOrder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	def := filepath.Join(dir, "default")
	os.WriteFile(file, bytes.Repeat([]byte{1}, 200), 0o400)
	os.WriteFile(def, bytes.Repeat([]byte{2}, 300), 0o644)
	long := strings.Repeat("k", 150)
	for _, tc := range []struct {
		src      KeySource
		wantLen  int
		wantWarn bool
		wantErr  string
	}{
		{KeySource{KeyFile: file, KeyFileSet: true, Key: long, KeySet: true, DefaultFile: def}, 200, false, ""},
		{KeySource{Key: long, KeySet: true, DefaultFile: def}, 151, false, ""},
		{KeySource{DefaultFile: def}, 300, true, ""},
		// keyfile wins even when it is bad, as in corosync.
		{KeySource{KeyFile: filepath.Join(dir, "nope"), KeyFileSet: true, Key: long, KeySet: true}, 0, false, "Could not open " + filepath.Join(dir, "nope") + ": No such file or directory"},
		{KeySource{Key: "short", KeySet: true, DefaultFile: def}, 0, false, "key is too short"},
		{KeySource{KeyFile: "", KeyFileSet: true}, 0, false, "Could not open : No such file or directory"},
	} {
		key, warn, err := LoadKey(tc.src)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%+v: %v, want %q", tc.src, err, tc.wantErr)
			}
			continue
		}
		if err != nil || len(key) != tc.wantLen || (warn != "") != tc.wantWarn {
			t.Errorf("%+v: %d bytes, warn %q, %v", tc.src, len(key), warn, err)
		}
	}
}

// TestKeyRulesAgainstCorosync runs the installed corosync 3.1.7 (`corosync -t`)
// on the same key files and values and compares its message with ours.
func TestKeyRulesAgainstCorosync(t *testing.T) {
	bin, err := exec.LookPath("corosync")
	if err != nil {
		t.Skip("corosync not installed")
	}
	dir := t.TempDir()
	conf := func(name, totemExtra string) string {
		p := filepath.Join(dir, name+".conf")
		text := "totem {\n\tversion: 2\n\tcluster_name: t\n\tcrypto_cipher: aes256\n\tcrypto_hash: sha256\n" + totemExtra +
			"}\nlogging {\n\tto_stderr: yes\n\tto_logfile: no\n\tto_syslog: no\n}\n" +
			"nodelist {\n\tnode {\n\t\tname: node1\n\t\tnodeid: 1\n\t\tring0_addr: 127.0.0.1\n\t}\n}\n"
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	msgRE := regexp.MustCompile(`error +\[MAIN +\] (.*)`)
	real := func(confPath string) string {
		out, err := exec.Command(bin, "-t", "-c", confPath).CombinedOutput()
		if err == nil {
			return ""
		}
		m := msgRE.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("corosync -t %s: %v\n%s", confPath, err, out)
		}
		return m[1]
	}
	if msg := real(conf("baseline", "\tkey: "+strings.Repeat("b", 200)+"\n")); msg != "" {
		t.Skipf("corosync -t rejects a valid config here (%s); cannot compare", msg)
	}
	ours := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	for _, c := range keyFileCases {
		p := makeKeyFile(t, dir, c)
		_, _, err := ReadKeyFile(p)
		if want, got := real(conf(c.name, "\tkeyfile: "+p+"\n")), ours(err); got != want {
			t.Errorf("key file %s: ours %q, corosync %q", c.name, got, want)
		}
	}
	for _, c := range keyValueCases {
		if c.n > 450 { // corosync.conf lines are limited to about 512 bytes
			continue
		}
		v := strings.Repeat("a", c.n)
		_, err := KeyFromValue(v)
		if want, got := real(conf(fmt.Sprintf("v%d", c.n), "\tkey: "+v+"\n")), ours(err); got != want {
			t.Errorf("totem.key of %d chars: ours %q, corosync %q", c.n, got, want)
		}
	}
}
