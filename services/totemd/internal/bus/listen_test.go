package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/ipcproto"
)

// probeEnv turns the test binary into probe (see TestMain): it connects to
// the bus socket named by the variable, over and over, and tries to attach.
const probeEnv = "NEEDLE_BUS_PROBE"

func TestMain(m *testing.M) {
	if path := os.Getenv(probeEnv); path != "" {
		os.Exit(probe(path))
	}
	os.Exit(m.Run())
}

// probeResult is what one probe run saw.
type probeResult struct {
	UID       int
	Attempts  int
	Connected int            // connect(2) succeeded
	Refused   int            // got a KindError after attaching
	Accepted  int            // got anything else: the bus let us in
	Errors    map[string]int // connect errors by errno text
	Texts     []string       // first KindError texts
}

// probe runs for NEEDLE_BUS_PROBE_FOR (a duration) or until one attempt if
// unset, and prints a probeResult as JSON.
func probe(path string) int {
	d, _ := time.ParseDuration(os.Getenv(probeEnv + "_FOR"))
	r := probeResult{UID: os.Getuid(), Errors: map[string]int{}}
	end := time.Now().Add(d)
	for r.Attempts == 0 || time.Now().Before(end) {
		r.Attempts++
		c, err := net.Dial("unix", path)
		if err != nil {
			var errno syscall.Errno
			if errors.As(err, &errno) {
				r.Errors[errno.Error()]++
			} else {
				r.Errors[err.Error()]++
			}
			continue
		}
		r.Connected++
		pc := ipcproto.NewConn(c)
		_ = pc.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: 7, Name: "intruder"})
		_ = pc.Send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 1, Payload: []byte("intruder")})
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond)) // a refusal comes at once
		m, err := pc.Recv()
		switch {
		case err == nil && m.Kind == ipcproto.KindError:
			r.Refused++
			if len(r.Texts) < 3 {
				r.Texts = append(r.Texts, m.Text)
			}
		case err == nil || errors.Is(err, os.ErrDeadlineExceeded):
			r.Accepted++ // an answer other than an error, or a bus that kept us
		default:
			r.Errors["after connect: "+err.Error()]++
		}
		pc.Close()
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// probeBinary copies the test binary where uid 65534 may run it.
func probeBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bus-probe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "probe")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// startProbe runs the probe against path for d, as uid 65534 through
// Debian's setpriv when unprivileged, else as root; wait returns its result.
func startProbe(t *testing.T, bin, path string, d time.Duration, unprivileged bool) (wait func() probeResult) {
	t.Helper()
	var cmd *exec.Cmd
	if unprivileged {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Fatalf("setpriv (util-linux) is needed to run a probe as another user: %v", err)
		}
		cmd = exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin)
	} else {
		cmd = exec.Command(bin)
	}
	cmd.Env = append(os.Environ(), probeEnv+"="+path, probeEnv+"_FOR="+d.String())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() probeResult {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("probe: %v: %s", err, errOut.String())
		}
		var r probeResult
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("probe output %q: %v", out.String(), err)
		}
		return r
	}
}

// sharedDir is a directory any user may traverse, as /run/needle is.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bus-dir-") // t.TempDir's parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// syncBuffer is a log sink read while the server writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rootAttach attaches as root (this process) and waits for the server to
// report it.
func rootAttach(t *testing.T, s *Server, path string, id uint16) {
	t.Helper()
	c, err := ipcproto.Dial(context.Background(), path)
	if err != nil {
		t.Fatalf("root dial: %v", err)
	}
	defer c.Close()
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: id, Name: "rootsvc"}); err != nil {
		t.Fatal(err)
	}
	for {
		ev := next(t, s)
		if ev.Msg != nil && ev.Msg.Kind == ipcproto.KindAttach {
			if ev.Svc.Name != "rootsvc" || ev.Svc.ID != id {
				t.Fatalf("attach of %q (%d) reported; only root attaches here", ev.Svc.Name, ev.Svc.ID)
			}
			return
		}
	}
}

// TestBusUnreachableUnderUmask000: with umask 000 (bind(2) then creates
// the socket 0777), an unprivileged process that connects as fast as it
// can while totemd's bus listener is created and torn down again and
// again never connects, let alone attaches; root attaches every time.
func TestBusUnreachableUnderUmask000(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the probe runs as uid 65534")
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	bin := probeBinary(t)
	path := filepath.Join(sharedDir(t), "bus.sock")
	wait := startProbe(t, bin, path, 3*time.Second, true)
	deadline := time.Now().Add(3 * time.Second)
	rounds := 0
	var logs syncBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := Listen(ctx, path, log)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		rootAttach(t, s, path, uint16(rounds%100))
		s.Close()
		cancel()
		rounds++
	}
	r := wait()
	t.Logf("%d listener rounds; probe as uid %d: %+v", rounds, r.UID, r)
	if r.UID != 65534 {
		t.Fatalf("probe ran as uid %d", r.UID)
	}
	if r.Connected != 0 || r.Accepted != 0 {
		t.Fatalf("uid 65534 connected %d times (attached %d) to a bus created under umask 000", r.Connected, r.Accepted)
	}
	if r.Attempts < 100 || r.Errors["permission denied"] == 0 {
		t.Fatalf("the probe did not try while the socket existed (%d attempts, %v)", r.Attempts, r.Errors)
	}
	if rounds < 20 {
		t.Fatalf("only %d listener rounds", rounds)
	}
	if fi, err := os.Lstat(path); err == nil {
		t.Fatalf("socket left behind after Close: %v", fi.Mode())
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 0 {
		t.Fatalf("private directories left behind: %v", ents)
	}
}

// TestBusSocketMode: the socket is 0600 and owned by root, whatever the
// umask, and replaces a stale socket at the same path.
func TestBusSocketMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(sharedDir(t), "bus.sock")
	if err := os.WriteFile(path, []byte("stale"), 0o666); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Listen(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bus socket mode %v, want a 0600 socket", fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uint32(os.Getuid()) {
		t.Fatalf("bus socket owned by uid %d", st.Uid)
	}
}

// TestNonRootPeerIsRefused: even when the socket is made world-accessible
// (an administrator's chmod), a non-root peer is refused on attach with a
// KindError and a log line naming it, never reported as attached; root
// still attaches.
func TestNonRootPeerIsRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the probe runs as uid 65534")
	}
	var logs syncBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})
	path := filepath.Join(sharedDir(t), "bus.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Listen(ctx, path, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	bin := probeBinary(t)
	r := startProbe(t, bin, path, 0, true)()
	if r.Connected != 1 || r.Refused != 1 || r.Accepted != 0 {
		t.Fatalf("non-root peer on a 0777 socket: %+v, want one connection refused with an error", r)
	}
	if !strings.Contains(r.Texts[0], "only root may attach") || !strings.Contains(r.Texts[0], "uid 65534") {
		t.Fatalf("refusal text %q", r.Texts[0])
	}
	if l := logs.String(); !strings.Contains(l, "refused bus connection from a non-root process") || !strings.Contains(l, "uid=65534") {
		t.Fatalf("refusal not logged with the uid:\n%s", l)
	}
	select {
	case ev := <-s.Events():
		t.Fatalf("the bus reported %+v for a refused peer", ev)
	default:
	}
	rootAttach(t, s, path, 0)
	root := startProbe(t, bin, path, 0, false)() // a root process other than the server
	if root.Connected != 1 || root.Accepted != 1 {
		t.Fatalf("root probe: %+v, want attached", root)
	}
}

// TestBusRefusesAnOpenDirectory: a directory where another user could
// swap the socket for their own is refused; a sticky one (as /tmp) is not.
func TestBusRefusesAnOpenDirectory(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o755, true}, {0o700, true}, {0o777, false}, {0o775, false}, {0o777 | os.ModeSticky, true}} {
		dir := sharedDir(t)
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s, err := Listen(ctx, filepath.Join(dir, "bus.sock"), nil)
		if (err == nil) != tc.ok {
			t.Errorf("directory mode %v: Listen error %v, want ok=%v", tc.mode, err, tc.ok)
		}
		if err == nil {
			s.Close()
		} else if !strings.Contains(err.Error(), "writable by other users") {
			t.Errorf("directory mode %v: %v", tc.mode, err)
		}
		cancel()
	}
}
