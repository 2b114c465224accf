package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the test binary act as the keygen binary (KEYGEN_AS_BINARY=1),
// so the tests run the real command line in a subprocess without a go build.
func TestMain(m *testing.M) {
	if os.Getenv("KEYGEN_AS_BINARY") == "1" {
		args := append([]string{"keygen"}, os.Args[1:]...)
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type result struct {
	stdout, stderr string
	code           int
}

// runBinary runs bin (our test binary as keygen, or corosync-keygen) in dir.
func runBinary(t *testing.T, bin, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Args[0] = "keygen"
	cmd.Dir = dir
	if bin == os.Args[0] {
		cmd.Env = append(os.Environ(), "KEYGEN_AS_BINARY=1")
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return result{o.String(), e.String(), code}
}

// randomFile writes a deterministic "random source" so two runs give the same key.
func randomFile(t *testing.T, dir string, n int) string {
	p := filepath.Join(dir, "random")
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*7 + 3)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// keygenCases run in a fresh directory holding "random" (8192 bytes) and a
// directory "adir"; none may touch anything outside it.
var keygenCases = [][]string{
	{"-k", "key", "-r", "random"},
	{"-k", "key", "-r", "random", "-s", "128", "-l"},
	{"--key-file=key", "--random-file=random", "--size=4096"},
	{"--key-file", "key", "--random-file", "random", "--size", "300"},
	{"-lkkey", "-rrandom", "-s129"},
	{"-k", "key", "-r", "random", "-s", "+200"},
	{"-k", "key", "-r", "random", "-s", "200", "-s", "300"},
	{"-k", "key", "-r", "random", "-s", "127"},
	{"-k", "key", "-r", "random", "-s", "4097"},
	{"-k", "key", "-r", "random", "-s", "abc"},
	{"-k", "key", "-r", "random", "-s", "-5"},
	{"-k", "key", "-r", "random", "-s", "200x"},
	{"-k", "key", "-r", "nonexistent"},
	{"-k", "nodir/key", "-r", "random"},
	{"-k", "adir", "-r", "random"},
	{"-k", "key", "-r", "random", "-x"},
	{"-k", "key", "-r", "random", "--bogus"},
	{"-k", "key", "-r", "random", "-lx"},
	{"-k", "key", "-r", "random", "-s"},
	{"-k", "key", "-h"},
	{"-k", "key", "--help"},
}

func keygenDir(t *testing.T) string {
	dir := t.TempDir()
	randomFile(t, dir, 8192)
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAgainstCorosyncKeygen runs each case with our keygen and with the
// installed corosync-keygen 3.1.7 and compares output, exit status, key bytes
// and mode. Every case names -k inside a temporary directory.
func TestAgainstCorosyncKeygen(t *testing.T) {
	real, err := exec.LookPath("corosync-keygen")
	if err != nil {
		t.Skip("corosync-keygen not installed")
	}
	for _, args := range keygenCases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ourDir, realDir := keygenDir(t), keygenDir(t)
			ours := runBinary(t, os.Args[0], ourDir, args...)
			theirs := runBinary(t, real, realDir, args...)
			// The real usage text spells its own name; ours names keygen.
			theirs.stdout = strings.Replace(theirs.stdout, "Usage: corosync-keygen ", "Usage: keygen ", 1)
			if ours != theirs {
				t.Fatalf("ours:\n%+v\ncorosync-keygen:\n%+v", ours, theirs)
			}
			ok, ov := readKey(t, ourDir)
			rk, rv := readKey(t, realDir)
			if !bytes.Equal(ok, rk) || ov != rv {
				t.Fatalf("key file: ours %d bytes %s, corosync-keygen %d bytes %s", len(ok), ov, len(rk), rv)
			}
		})
	}
}

func readKey(t *testing.T, dir string) ([]byte, string) {
	p := filepath.Join(dir, "key")
	fi, err := os.Stat(p)
	if err != nil {
		return nil, "absent"
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data, fi.Mode().String()
}

// TestKeygenBinary pins the behaviour without corosync-keygen installed.
func TestKeygenBinary(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
		keyLen int
	}{
		{[]string{"-k", "key", "-r", "random"}, 0,
			"Corosync Cluster Engine Authentication key generator.\nGathering 2048 bits for key from random.\nWriting corosync key to key.\n", "", 256},
		{[]string{"-k", "key", "-r", "random", "-s", "4096"}, 0,
			"Corosync Cluster Engine Authentication key generator.\nGathering 32768 bits for key from random.\nWriting corosync key to key.\n", "", 4096},
		{[]string{"-k", "key", "-s", "100"}, 1, "", "keygen: Unsupported key size (supported <128,4096>)\n\n", 0},
		{[]string{"-k", "key", "-x"}, 1, "Error parsing command line options.\n", "keygen: invalid option -- 'x'\n", 0},
		{[]string{"-k", "key", "-r", "random", "extra"}, 1, "Error parsing command line options.\n", "keygen: unexpected argument 'extra'\n", 0},
		{[]string{"-k", "adir", "-r", "random"}, 2,
			"Corosync Cluster Engine Authentication key generator.\nGathering 2048 bits for key from random.\n", "keygen: Could not create adir: Is a directory\n", 0},
		{[]string{"-k", "key", "-r", "random", "-s", "128", "-l"}, 0,
			"Corosync Cluster Engine Authentication key generator.\nGathering 1024 bits for key from random.\nWriting corosync key to key.\n", "", 128},
	} {
		dir := keygenDir(t)
		got := runBinary(t, os.Args[0], dir, tc.args...)
		if got != (result{tc.stdout, tc.stderr, tc.code}) {
			t.Errorf("%v: got %+v", tc.args, got)
		}
		key, mode := readKey(t, dir)
		if len(key) != tc.keyLen || (tc.keyLen > 0 && mode != "-r--------") {
			t.Errorf("%v: key %d bytes mode %s, want %d bytes -r--------", tc.args, len(key), mode, tc.keyLen)
		}
		if tc.keyLen > 0 {
			want := make([]byte, tc.keyLen)
			for i := range want {
				want[i] = byte(i*7 + 3)
			}
			if !bytes.Equal(key, want) {
				t.Errorf("%v: key is not the first %d bytes of the random source", tc.args, tc.keyLen)
			}
		}
		assertNoTemp(t, dir)
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestOverwriteReplacesAtomically(t *testing.T) {
	dir := keygenDir(t)
	key := filepath.Join(dir, "key")
	if err := os.WriteFile(key, []byte("old key"), 0o400); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"keygen", "-k", key, "-r", filepath.Join(dir, "random"), "-s", "128"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	data, mode := readKey(t, dir)
	if len(data) != 128 || mode != "-r--------" {
		t.Fatalf("after overwrite: %d bytes, %s", len(data), mode)
	}
	assertNoTemp(t, dir)
}

func TestWritesThroughSymlink(t *testing.T) {
	dir := keygenDir(t)
	real := filepath.Join(dir, "adir", "authkey")
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"keygen", "-k", link, "-r", filepath.Join(dir, "random")}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link replaced: %v", err)
	}
	if fi, err := os.Stat(real); err != nil || fi.Size() != 256 || fi.Mode().Perm() != 0o400 {
		t.Fatalf("target: %v %v", fi, err)
	}
}

func TestShortRandomSource(t *testing.T) {
	dir := t.TempDir()
	src := randomFile(t, dir, 100)
	var out, errb bytes.Buffer
	code := run([]string{"keygen", "-k", filepath.Join(dir, "key"), "-r", src, "-s", "128"}, &out, &errb)
	want := fmt.Sprintf("keygen: Could not read %s: only 100 of 128 bytes available\n", src)
	if code != 1 || errb.String() != want {
		t.Fatalf("exit %d, stderr %q; want 1, %q", code, errb.String(), want)
	}
	if !strings.Contains(out.String(), "Press keys on your keyboard to generate entropy (224 bits still needed).") {
		t.Fatalf("stdout %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "key")); err == nil {
		t.Fatal("key written from a short source")
	}
}

func TestSplitShortOptions(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"-kfoo", "-k foo"},
		{"-lk foo", "-l -k foo"},
		{"-ls128 -rR", "-l -s 128 -r R"},
		{"-s -5", "-s -5"},
		{"-k -lx", "-k -lx"},
		{"--size 200 -l", "--size 200 -l"},
		{"-k a -- -lx", "-k a -- -lx"},
		{"-lh", "-l -h"},
	} {
		got := strings.Join(splitShortOptions(append([]string{"p"}, strings.Fields(tc.in)...))[1:], " ")
		if got != tc.want {
			t.Errorf("%q -> %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestAsUnprivilegedUser runs ours and corosync-keygen as nobody over an
// existing 0400 key that nobody owns: both must refuse to replace it.
func TestAsUnprivilegedUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to nobody")
	}
	real, realErr := exec.LookPath("corosync-keygen")
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} { // t.TempDir makes both 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary's own directory is private; copy it where nobody can run it.
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	ourBin := filepath.Join(base, "keygen.test")
	if err := os.WriteFile(ourBin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(bin, env string) (result, []byte) {
		dir, err := os.MkdirTemp(base, "run")
		if err != nil {
			t.Fatal(err)
		}
		randomFile(t, dir, 512)
		key := filepath.Join(dir, "key")
		os.WriteFile(key, []byte("old"), 0o400)
		for _, p := range []string{dir, key, filepath.Join(dir, "random")} {
			os.Chown(p, 65534, 65534)
		}
		os.Chmod(dir, 0o755)
		cmd := exec.Command(bin, "-k", "key", "-r", "random")
		cmd.Args[0] = "keygen"
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(key)
		return result{o.String(), e.String(), code}, data
	}
	ours, ourKey := run(ourBin, "KEYGEN_AS_BINARY=1")
	want := result{"Corosync Cluster Engine Authentication key generator.\nGathering 2048 bits for key from random.\n",
		"keygen: Could not create key: Permission denied\n", 2}
	if ours != want || string(ourKey) != "old" {
		t.Fatalf("ours as nobody: %+v, key %q", ours, ourKey)
	}
	if realErr != nil {
		return
	}
	theirs, theirKey := run(real, "")
	if theirs != ours || string(theirKey) != "old" {
		t.Fatalf("corosync-keygen as nobody: %+v, key %q; ours %+v", theirs, theirKey, ours)
	}
}
