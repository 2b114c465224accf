package qbipc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	corosyncBin = "/usr/sbin/corosync"
	cmapctlBin  = "/usr/sbin/corosync-cmapctl"
)

// runCorosync starts a real one-node corosync 3.1.7 on loopback with the
// given qb_ipc_type and stops it (by PID) when the test ends.
func runCorosync(t *testing.T, ipcType string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`totem {
	version: 2
	cluster_name: qbipctest
	transport: udpu
	crypto_cipher: none
	crypto_hash: none
}
nodelist {
	node {
		ring0_addr: 127.0.0.1
		nodeid: 1
		name: node1
	}
}
quorum {
	provider: corosync_votequorum
}
logging {
	to_stderr: yes
	to_syslog: no
	to_logfile: no
}
system {
	state_dir: %s
	qb_ipc_type: %s
}
`, state, ipcType)
	path := filepath.Join(dir, "corosync.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(corosyncBin, "-f", "-c", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start corosync: %v", err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-waited
		}
		if t.Failed() {
			t.Logf("corosync output:\n%s", out.String())
		}
	})
	return cmd, waited
}

// dialRetry connects while the daemon is starting (it refuses with EAGAIN,
// or is not listening yet).
func dialRetry(t *testing.T, service string) *Client {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := Dial(ctx, service, DialOptions{})
		cancel()
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", service, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestInteropRealCorosync reads values from a real corosync 3.1.7 through
// our client, in both transports, receives a track event, and sees the
// daemon's death while waiting in dispatch.
func TestInteropRealCorosync(t *testing.T) {
	if _, err := os.Stat(corosyncBin); err != nil {
		t.Skipf("real corosync not installed (%s): %v", corosyncBin, err)
	}
	if !inPrivateNamespaces(t) {
		return
	}
	for _, tc := range []struct {
		ipcType string
		want    Transport
	}{{"native", SHM}, {"socket", Socket}} {
		t.Run(tc.ipcType, func(t *testing.T) {
			cs, exited := runCorosync(t, tc.ipcType)
			c := dialRetry(t, "cmap")
			if c.Transport() != tc.want {
				t.Fatalf("corosync chose %v, want %v", c.Transport(), tc.want)
			}
			if c.MaxMsgSize() != DefaultMaxMsgSize || c.ServerCreds().PID != int32(cs.Process.Pid) {
				t.Fatalf("max_msg_size %d, server %v (corosync pid %d)", c.MaxMsgSize(), c.ServerCreds(), cs.Process.Pid)
			}
			ctx := testCtx(t)
			get := func(key string, n int) cmapValue {
				resp, err := c.Request(ctx, cmapGet(key, n))
				if err != nil {
					t.Fatalf("GET %s: %v", key, err)
				}
				v, err := decodeCmapGet(resp)
				if err != nil {
					t.Fatalf("GET %s: %v", key, err)
				}
				return v
			}
			if v := get("totem.cluster_name", 256); v.err != csOK || v.typ != cmapTypeString || string(v.value) != "qbipctest\x00" {
				t.Fatalf("totem.cluster_name: %+v", v)
			}
			if v := get("runtime.config.totem.token", 16); v.err != csOK || v.typ != cmapTypeU32 || len(v.value) != 4 {
				t.Fatalf("runtime.config.totem.token: %+v", v)
			} else {
				t.Logf("runtime.config.totem.token = %d", le.Uint32(v.value))
			}
			if v := get("no.such.key", 16); v.err != csNotExist {
				t.Fatalf("missing key: %+v", v)
			}

			// Events: track a key, change it, receive the notification.
			const inst = 0x1234abcd
			resp, err := c.Request(ctx, cmapTrackAdd("qbipc.test.", 4|2|1|8, inst))
			if h, _ := DecodeRespHeader(resp); err != nil || h.Error != csOK {
				t.Fatalf("TRACK_ADD: %v %+v", err, h)
			}
			resp, err = c.Request(ctx, cmapSetU32("qbipc.test.value", 77))
			if h, _ := DecodeRespHeader(resp); err != nil || h.Error != csOK {
				t.Fatalf("SET: %v %+v", err, h)
			}
			ev, err := c.ReadEvent(ctx)
			if err != nil {
				t.Fatalf("ReadEvent: %v", err)
			}
			h, _ := DecodeRespHeader(ev)
			if h.ID != cmapResNotify || len(ev) < 340 || le.Uint64(ev[24:]) != inst || getName(ev[32:]) != "qbipc.test.value" || le.Uint32(ev[336:]) != 77 {
				t.Fatalf("notification %+v %x", h, ev[:min(len(ev), 64)])
			}

			// The daemon dies while we wait for an event: the wait must end.
			got := make(chan error, 1)
			go func() {
				_, err := c.ReadEvent(context.Background())
				got <- err
			}()
			time.Sleep(100 * time.Millisecond)
			cs.Process.Kill()
			select {
			case err := <-got:
				if !errors.Is(err, ErrDisconnected) {
					t.Fatalf("ReadEvent after corosync died: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ReadEvent did not notice corosync dying")
			}
			// Closing a client of a dead (and reaped) server removes the
			// server's files, as libqb's client does.
			<-exited
			ents, _ := filepath.Glob("/dev/shm/qb-" + strconv.Itoa(cs.Process.Pid) + "-*/*")
			if len(ents) == 0 && tc.want == SHM {
				t.Fatal("no ring files of corosync found")
			}
			c.Close()
			if left, _ := filepath.Glob("/dev/shm/qb-" + strconv.Itoa(cs.Process.Pid) + "-*/*"); len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}

// TestInteropCmapctl has Debian's unmodified corosync-cmapctl read a key
// from our server impersonating cmap, in both transports, and checks the
// uidgid refusal and a server going away under "cmapctl -t".
func TestInteropCmapctl(t *testing.T) {
	if _, err := os.Stat(cmapctlBin); err != nil {
		t.Skipf("corosync-cmapctl not installed (%s): %v", cmapctlBin, err)
	}
	if !inPrivateNamespaces(t) {
		return
	}
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			f := &fakeCmap{key: "needle.test", value: 4242, tracked: make(chan tracker, 1),
				allowed: func(uid, gid uint32) bool { return uid == 65533 }}
			// Per-connection directories live in a directory non-root
			// clients can traverse, as /dev/shm itself.
			dir, err := os.MkdirTemp("/dev/shm", "qbipc-interop-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			s, err := Listen(Config{Service: "cmap", Transport: tr, Dir: dir}, f)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- s.Serve(ctx) }()
			defer func() {
				cancel()
				<-served
			}()

			run := func(uid uint32, args ...string) (string, error) {
				cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer ccancel()
				cmd := exec.CommandContext(cctx, cmapctlBin, args...)
				if uid != 0 {
					cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
				}
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			out, err := run(0, "-g", "needle.test")
			if err != nil || out != "needle.test (u32) = 4242\n" {
				t.Fatalf("cmapctl -g: %v: %q", err, out)
			}
			out, err = run(0, "-g", "needle.other")
			if err == nil || !strings.Contains(out, "CS_ERR_NOT_EXIST") {
				t.Fatalf("cmapctl -g missing key: %v: %q", err, out)
			}
			// A non-root user: allowed by the callback, or refused with EACCES.
			out, err = run(65533, "-g", "needle.test")
			if err != nil || out != "needle.test (u32) = 4242\n" {
				t.Fatalf("cmapctl -g as allowed uid 65533: %v: %q", err, out)
			}
			out, err = run(65534, "-g", "needle.test")
			if err == nil || !strings.Contains(out, "CS_ERR_ACCESS") {
				t.Fatalf("cmapctl -g as refused uid 65534: %v: %q", err, out)
			}

			// cmapctl -t idles in dispatch; closing the server ends it.
			cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer ccancel()
			cmd, tout, stdin, tr := startCmapctlTrack(cctx, t, f)
			defer stdin.Close()
			// Events reach the C client's dispatch (its notify callback prints them).
			for i := uint32(0); i < 3; i++ {
				if err := tr.c.SendEvent(cmapNotifyU32(tr.inst, "needle.test", 2, 4243+i, 4242+i)); err != nil {
					t.Fatal(err)
				}
			}
			for !strings.Contains(tout.String(), "4245") {
				if cctx.Err() != nil {
					t.Fatalf("cmapctl -t did not print the events: %q", tout.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			err = cmd.Wait()
			want := "Type \"q\" to finish\n" +
				"modify> needle.test (u32) = 4243\n" +
				"modify> needle.test (u32) = 4244\n" +
				"modify> needle.test (u32) = 4245\n" +
				"Dispatch error CS_ERR_LIBRARY\n"
			if cctx.Err() != nil || tout.String() != want {
				t.Fatalf("cmapctl -t, then server close: %v: %q, want %q", err, tout.String(), want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("left behind in %s: %v", dir, ents)
			}
		})
	}
}

// TestInteropCmapctlServerKilled: kill -9 of our server while Debian's
// corosync-cmapctl -t idles in dispatch; in shm mode the C client must
// report the error at once (in socket mode libqb's client cannot notice a
// crash until its next call: spec/ipc-libqb.md §0).
func TestInteropCmapctlServerKilled(t *testing.T) {
	if _, err := os.Stat(cmapctlBin); err != nil {
		t.Skipf("corosync-cmapctl not installed (%s): %v", cmapctlBin, err)
	}
	if !inPrivateNamespaces(t) {
		return
	}
	dir, err := os.MkdirTemp("/dev/shm", "qbipc-interop-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv := startServerProcess(t, "cmap", SHM, dir, "cmap")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out syncBuffer
	cmd := exec.CommandContext(ctx, "stdbuf", "-oL", cmapctlBin, "-t", "needle.test")
	cmd.Stdout, cmd.Stderr = &out, &out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), "to finish") { // printed after TRACK_ADD succeeded
		if ctx.Err() != nil {
			t.Fatalf("cmapctl -t did not start tracking: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // into its poll()
	srv.Process.Kill()
	err = cmd.Wait()
	if ctx.Err() != nil || out.String() != "Type \"q\" to finish\nDispatch error CS_ERR_LIBRARY\n" {
		t.Fatalf("cmapctl -t after kill -9 of the server: %v: %q", err, out.String())
	}
}

// startCmapctlTrack starts Debian's corosync-cmapctl -t needle.test
// (line-buffered, so that its events show while it runs; it quits on EOF
// of its stdin) and waits until it tracks the key on f.
func startCmapctlTrack(ctx context.Context, t *testing.T, f *fakeCmap) (*exec.Cmd, *syncBuffer, io.WriteCloser, tracker) {
	t.Helper()
	tout := &syncBuffer{}
	cmd := exec.CommandContext(ctx, "stdbuf", "-oL", cmapctlBin, "-t", "needle.test")
	cmd.Stdout, cmd.Stderr = tout, tout
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case tr := <-f.tracked:
		return cmd, tout, stdin, tr
	case <-ctx.Done():
		stdin.Close()
		t.Fatalf("cmapctl -t never tracked: %q", tout.String())
	}
	panic("unreachable")
}
