package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/coroconf"
)

// The acceptance corpus lives with the parser; every case was recorded
// from Debian's real `corosync -t` by libs/coroconf/testdata/record.sh.
const corpusDir = "../../libs/coroconf/testdata/corpus"

type recording struct {
	exit   int
	stderr []string // without timestamps and without corosync's exit notice
}

func readRecording(t *testing.T, path string) recording {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec := recording{exit: -1}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "exit "):
			rec.exit, err = strconv.Atoi(strings.TrimPrefix(line, "exit "))
			if err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(line, "stderr "):
			l := strings.TrimPrefix(line, "stderr ")
			if !strings.Contains(l, "[MAIN  ] Corosync Cluster Engine exiting") {
				rec.stderr = append(rec.stderr, l)
			}
		}
	}
	if rec.exit < 0 {
		t.Fatalf("%s: no exit line", path)
	}
	return rec
}

func corpusOptions(t *testing.T) coroconf.CheckOptions {
	data, err := os.ReadFile(filepath.Join(corpusDir, "ENV"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := coroconf.ParseHostEnv(data, "/var/lib/corosync")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := checkOptions("", "")
	if err != nil {
		t.Fatal(err)
	}
	opts.Env = func(string) coroconf.Env { return env }
	// The recording machine had corosync's state directory.
	opts.StateDir = func(dir string) error {
		if dir == "/var/lib/corosync" {
			return nil
		}
		_, err := os.Stat(dir)
		return err
	}
	return opts
}

// TestCheckMatchesCorosync runs the check on every corpus file and wants
// corosync's exit status and stderr lines (logging included, through
// libs/logsys), and for valid files the parser's golden key listing.
func TestCheckMatchesCorosync(t *testing.T) {
	opts := corpusOptions(t)
	abs, err := filepath.Abs(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(abs)
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name, conf := e.Name(), e.Name()+"/corosync.conf"
		if !e.IsDir() {
			if !strings.HasSuffix(name, ".conf") {
				continue
			}
			name, conf = strings.TrimSuffix(name, ".conf"), e.Name()
		}
		n++
		t.Run(name, func(t *testing.T) {
			rec := readRecording(t, name+".expect")
			var stdout, stderr bytes.Buffer
			code := check(conf, opts, &stdout, &stderr)
			got := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if stderr.Len() == 0 {
				got = nil
			}
			if rec.exit == 134 {
				// corosync aborts on a bad u64 value; we give a normal
				// conversion error (see coroconf's convertU64).
				if code != coroconf.ExitConfig || len(got) != 1 || !strings.Contains(got[0], "range (0..18446744073709551615)") {
					t.Fatalf("got %d %q, want exit 8 with a u64 range error", code, got)
				}
				return
			}
			if code != rec.exit || strings.Join(got, "\n") != strings.Join(rec.stderr, "\n") {
				t.Fatalf("got exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", code, strings.Join(got, "\n"), rec.exit, strings.Join(rec.stderr, "\n"))
			}
			if code == 0 {
				want, err := os.ReadFile(name + ".keys")
				if err != nil {
					t.Fatal(err)
				}
				if stdout.String() != string(want) {
					t.Fatalf("stdout differs from %s.keys", name)
				}
			}
		})
	}
	if n < 40 {
		t.Fatalf("only %d corpus files", n)
	}
}

// TestCLI drives the real command line (flags, exit codes, -t form).
func TestCLI(t *testing.T) {
	dir := t.TempDir()
	envFile, err := filepath.Abs(filepath.Join(corpusDir, "ENV"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "corosync.conf")
	write := func(extra string) {
		t.Helper()
		text := "totem {\n  version: 2\n  transport: udpu\n" + extra + "}\nnodelist {\n  node {\n    name: nodeA\n    ring0_addr: 10.9.9.9\n    nodeid: 3\n  }\n}\nsystem {\n  state_dir: " + dir + "\n}\n"
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		extra    string
		args     []string
		code     int
		stdout   string // substring
		stderrIs string
	}{
		{"hostname flag finds node", "", []string{"check", "-c", conf, "--host-env", envFile, "--hostname", "nodeA"}, 0, "nodelist.local_node_pos (u32) = 0\n", ""},
		{"dash-t form", "", []string{"-t", "-c", conf, "--host-env", envFile, "--hostname", "nodeA"}, 0, "runtime.config.totem.token (u32) = 3000\n", ""},
		{"no local node", "", []string{"check", "-c", conf, "--host-env", envFile, "--hostname", "nodeB"}, 8, "", "error   [MAIN  ] parse error in config: No valid name found for local host\n"},
		{"timer error", "  token: 20\n", []string{"check", "-c", conf, "--host-env", envFile, "--hostname", "nodeA"}, 8, "", "error   [MAIN  ] parse error in config: The token timeout parameter (20 ms) may not be less than (30 ms).\n"},
		{"parse error", "  token 20\n", []string{"check", "-c", conf}, 8, "", "parser error: " + conf + ":4: Line is not opening or closing section or key value\n"},
		{"missing file", "", []string{"check", "-c", filepath.Join(dir, "nope.conf")}, 8, "", "Can't read file " + filepath.Join(dir, "nope.conf") + ": No such file or directory\n"},
		{"stray argument", "", []string{"check", "extra"}, 1, "", "check: unexpected argument \"extra\" (use -c FILE)\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			write(c.extra)
			t.Setenv("NEEDLE_HOSTNAME", "")
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"totemd"}, c.args...), &stdout, &stderr)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), c.stdout) {
				t.Errorf("stdout lacks %q:\n%s", c.stdout, stdout.String())
			}
			if c.stderrIs != "" && stderr.String() != c.stderrIs {
				t.Errorf("stderr %q, want %q", stderr.String(), c.stderrIs)
			}
		})
	}
}

// TestCLIHostnameFromEnv checks the NEEDLE_HOSTNAME override.
func TestCLIHostnameFromEnv(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.conf")
	text := "totem {\n version: 2\n transport: udpu\n}\nnodelist {\n node {\n  name: envnode\n  ring0_addr: 10.9.9.9\n  nodeid: 3\n }\n}\nsystem {\n state_dir: " + dir + "\n}\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NEEDLE_HOSTNAME", "envnode")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"totemd", "check", "-c", conf}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}
