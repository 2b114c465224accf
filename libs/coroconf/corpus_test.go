package coroconf

import (
	"bufio"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .keys golden files of valid corpus cases")

const corpusDir = "testdata/corpus"

// recording is one .expect file written by testdata/record.sh from the
// real `corosync -t`.
type recording struct {
	exit   int
	stderr []string
}

func readRecording(t *testing.T, path string) recording {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rec recording
	rec.exit = -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "exit "):
			rec.exit, err = strconv.Atoi(strings.TrimPrefix(line, "exit "))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		case strings.HasPrefix(line, "stderr "):
			rec.stderr = append(rec.stderr, strings.TrimPrefix(line, "stderr "))
		}
	}
	if rec.exit < 0 {
		t.Fatalf("%s: no exit line", path)
	}
	return rec
}

const (
	logError   = "error   [MAIN  ] "
	logWarning = "warning [MAIN  ] "
)

// message returns the error text corosync printed: the first logged error
// that is not the exit notice, or the raw line printed before logging is up.
func (r recording) message() string {
	for _, l := range r.stderr {
		if strings.HasPrefix(l, logError) {
			msg := strings.TrimPrefix(l, logError)
			if !strings.HasPrefix(msg, "Corosync Cluster Engine exiting") {
				return msg
			}
			continue
		}
		if !strings.Contains(l, "[MAIN  ]") {
			return l
		}
	}
	return ""
}

func (r recording) warnings() []string {
	var w []string
	for _, l := range r.stderr {
		if strings.HasPrefix(l, logWarning) {
			w = append(w, strings.TrimPrefix(l, logWarning))
		}
	}
	return w
}

// corpusEnv is the host corosync saw when the corpus was recorded
// (testdata/corpus/ENV): hostname, interface addresses, /etc/hosts.
func corpusEnv(t testing.TB) Env {
	data, err := os.ReadFile(filepath.Join(corpusDir, "ENV"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseHostEnv(data, "/var/lib/corosync")
	if err != nil {
		t.Fatal(err)
	}
	return env
}

type corpusCase struct {
	name string // case name
	conf string // config path relative to corpusDir, as given to corosync -c
}

func corpusCases(t testing.TB) []corpusCase {
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.IsDir():
			cases = append(cases, corpusCase{n, n + "/corosync.conf"})
		case strings.HasSuffix(n, ".conf"):
			cases = append(cases, corpusCase{strings.TrimSuffix(n, ".conf"), n})
		}
	}
	return cases
}

// recordedStateDir existed on the recording machine (Debian's corosync
// package creates it); other directories are checked for real.
const recordedStateDir = "/var/lib/corosync"

func corpusStateDir(dir string) error {
	if dir == recordedStateDir {
		return nil
	}
	return checkDir(dir)
}

// checkCorpus runs Check from inside the corpus directory, as record.sh
// runs corosync, so file names in messages match.
func checkCorpus(t *testing.T, c corpusCase, env Env) (*CheckResult, error) {
	return Check(c.conf, CheckOptions{
		Env:      func(string) Env { return env },
		StateDir: corpusStateDir,
	})
}

func TestCorpusMatchesCorosync(t *testing.T) {
	env := corpusEnv(t)
	cases := corpusCases(t)
	if len(cases) < 40 {
		t.Fatalf("corpus has %d cases, want at least 40", len(cases))
	}
	abs, err := filepath.Abs(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(abs)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := readRecording(t, c.name+".expect")
			res, err := checkCorpus(t, c, env)
			var ce *Error
			if err != nil && !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *Error: %v", err, err)
			}
			switch rec.exit {
			case 0:
				if err != nil {
					t.Fatalf("corosync accepted the file; we reject it: %v", err)
				}
				if got, want := strings.Join(res.Warnings, "\n"), strings.Join(rec.warnings(), "\n"); got != want {
					t.Errorf("warnings:\n got %q\nwant %q", got, want)
				}
				checkGolden(t, c.name+".keys", res.Map.Format())
			case 7:
				// Logging is validated by libs/logsys (services/totemd
				// check tests cover these); the parse itself must pass.
				if _, err := Load(c.conf, LoadOptions{}); err != nil {
					t.Fatalf("parse failed, corosync reached logging: %v", err)
				}
			case 134:
				// corosync 3.1.7 aborts on a bad u64 value; we report
				// a normal conversion error (config.md §2.2).
				if ce == nil || ce.Exit != ExitConfig || !strings.Contains(ce.Msg, "range (0..18446744073709551615)") {
					t.Fatalf("got %v, want a u64 range error with exit 8", err)
				}
			default:
				if ce == nil {
					t.Fatalf("corosync exited %d with %q; we accept the file", rec.exit, rec.message())
				}
				if ce.Exit != rec.exit || ce.Msg != rec.message() {
					t.Fatalf("got exit %d %q\nwant exit %d %q", ce.Exit, ce.Msg, rec.exit, rec.message())
				}
				if rec.exit == ExitConfig && res != nil && res.Totem != nil {
					if got, want := strings.Join(res.Warnings, "\n"), strings.Join(rec.warnings(), "\n"); got != want {
						t.Errorf("warnings:\n got %q\nwant %q", got, want)
					}
				}
			}
		})
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(name, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("keys differ from %s:\n%s", name, lineDiff(string(want), got))
	}
}

// lineDiff lists lines only in want (-) or only in got (+).
func lineDiff(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var sb strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			sb.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			sb.WriteString("+ " + l + "\n")
		}
	}
	return sb.String()
}
