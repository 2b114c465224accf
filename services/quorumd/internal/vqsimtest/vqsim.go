package vqsimtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Binary is Debian's corosync-vqsim.
const Binary = "corosync-vqsim"

// Settle is how long the ring messages of a step are given once every
// node reported the step's membership.
const Settle = 50 * time.Millisecond

// Session is one running corosync-vqsim.
type Session struct {
	ctx    context.Context
	cancel context.CancelFunc
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan string
	stderr bytes.Buffer
	wd     string
	t0     time.Time
	// ready is when vqsim took its first command.
	ready time.Duration
	// trace is strace's log of the controller's reads (relays);
	// traceOff how much of it Relayed has consumed.
	trace    string
	traceOff int64
	// log follows the nodes' votequorum log (vqlog.go).
	log *vqlog
}

// Start runs corosync-vqsim on sc's configuration in a fresh directory
// below dir, with vqlog.c preloaded (built into dir on first use); it
// starts no node (Scenario.Conf).
func Start(ctx context.Context, dir string, sc Scenario) (*Session, error) {
	lib, err := buildLogLib(dir)
	if err != nil {
		return nil, err
	}
	wd, err := os.MkdirTemp(dir, "vqsim")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(wd, "c.conf"), []byte(sc.Conf(wd)), 0o644); err != nil {
		return nil, err
	}
	s := &Session{wd: wd, lines: make(chan string, 256)}
	s.ctx, s.cancel = context.WithTimeout(ctx, 30*time.Minute)
	s.trace = filepath.Join(wd, "relay.trace")
	logFile := filepath.Join(wd, "votequorum.log")
	s.log = newVqlog(logFile)
	args := append(traceArgs(s.trace), "-E", "LD_PRELOAD="+lib, "-E", "VQLOG_FILE="+logFile, Binary, "-c", "c.conf")
	s.cmd = exec.CommandContext(s.ctx, Tracer, args...)
	s.cmd.Dir = wd
	// vqsim forks one process per node and they inherit stdout/stderr:
	// run them in their own process group and end the group.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.cmd.Cancel = func() error { return syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) }
	s.cmd.WaitDelay = 2 * time.Second
	s.cmd.Stderr = &s.stderr
	if s.in, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.t0 = time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", Binary, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	if err := s.Send("timeout 1000"); err != nil {
		s.Close()
		return nil, err
	}
	s.ready = s.Since()
	return s, nil
}

// Since is the time since vqsim started.
func (s *Session) Since() time.Duration { return time.Since(s.t0) }

// Send writes one command line and waits for its echo: vqsim reads
// stdin a line at a time and may leave buffered lines unread until more
// input arrives.
func (s *Session) Send(l string) error {
	if _, err := io.WriteString(s.in, l+"\n"); err != nil {
		return fmt.Errorf("%q: %w (vqsim gone? stderr %q)", l, err, s.stderr.String())
	}
	if err := readUntil(s.ctx, s.lines, l, nil); err != nil {
		return fmt.Errorf("%q: %w (stderr %q)", l, err, s.stderr.String())
	}
	return nil
}

// Expect waits for a line containing text.
func (s *Session) Expect(text string) error { return readUntil(s.ctx, s.lines, text, nil) }

// Show returns every node's last reported state, with its last
// recalculation from the log (read after the report).
func (s *Session) Show() (map[uint32]NodeView, error) {
	if err := s.Send("show"); err != nil {
		return nil, err
	}
	nodes := map[uint32]NodeView{}
	if err := readUntil(s.ctx, s.lines, "#autofence", nodes); err != nil {
		return nil, fmt.Errorf("show: %w (stderr %q)", err, s.stderr.String())
	}
	rcs, err := s.log.Recalcs()
	if err != nil {
		return nil, err
	}
	for id, v := range nodes {
		if rc, ok := rcs[id]; ok {
			v.Recalc = &rc
			nodes[id] = v
		}
	}
	return nodes, nil
}

// Close quits vqsim (killing its process group if it lingers) and
// returns the start-up error text it printed, if any.
func (s *Session) Close() (initErr string) {
	_, _ = io.WriteString(s.in, "quit\n")
	s.in.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.cancel()
	if os.Getenv("VQSIM_KEEP") != "" {
		// kept for a diagnosis: c.conf, relay.trace, votequorum.log
		fmt.Fprintf(os.Stderr, "vqsim session kept in %s\n", s.wd)
	} else {
		os.RemoveAll(s.wd)
	}
	if m := regexp.MustCompile(`exec init failed: (.*)`).FindStringSubmatch(s.stderr.String()); m != nil {
		return m[1]
	}
	return ""
}

var stateRE = regexp.MustCompile(`(\d+):(\d+): q=(\d+) ring=\[[0-9a-f]+\.[0-9a-f]+\] nodes=\[([0-9 ]*)\]`)

// readUntil consumes lines up to one ending with stop; state lines on the
// way are parsed into nodes (if not nil).
func readUntil(ctx context.Context, lines <-chan string, stop string, nodes map[uint32]NodeView) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case l, ok := <-lines:
			if !ok {
				return fmt.Errorf("vqsim output ended before %q", stop)
			}
			if strings.HasSuffix(l, stop) || strings.HasPrefix(l, stop) || (len(stop) > 12 && strings.Contains(l, stop)) {
				return nil
			}
			if nodes == nil {
				continue
			}
			if m := stateRE.FindStringSubmatch(l); m != nil {
				p, _ := strconv.Atoi(m[1])
				id, _ := strconv.ParseUint(m[2], 10, 32)
				v := NodeView{Part: p, Quorate: m[3] == "1"}
				for _, f := range strings.Fields(m[4]) {
					n, _ := strconv.ParseUint(f, 10, 32)
					v.Members = append(v.Members, uint32(n))
				}
				nodes[uint32(id)] = v
			}
		}
	}
}
