package qbipc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveEnv makes the test binary a server process: "<service> <transport>
// <dir> <echo|cmap>".
const serveEnv = "QBIPC_TEST_SERVE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(serveEnv); spec != "" {
		os.Exit(serveForever(spec))
	}
	os.Exit(m.Run())
}

// serveForever runs an echo server until killed (the process under test in
// TestServerKilled).
func serveForever(spec string) int {
	f := strings.Fields(spec)
	if len(f) != 4 {
		fmt.Fprintf(os.Stderr, "bad %s %q\n", serveEnv, spec)
		return 2
	}
	tr, err := ParseTransport(f[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var h Handler = newEchoHandler()
	if f[3] == "cmap" {
		h = &fakeCmap{key: "needle.test", value: 4242}
	}
	s, err := Listen(Config{Service: f[0], Transport: tr, Dir: f[2]}, h)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	if err := s.Serve(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestServerKilled: kill -9 of the server process while a client waits in
// dispatch; the client must see the error promptly, later requests fail,
// and closing the client removes the dead server's ring files.
func TestServerKilled(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			dir, err := os.MkdirTemp("/dev/shm", "qbipc-kill-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			svc := testService()
			cmd := startServerProcess(t, svc, tr, dir, "echo")
			c := dial(t, svc)
			ctx := testCtx(t)
			if _, err := c.Request(ctx, echoReq([]byte("alive"))); err != nil {
				t.Fatal(err)
			}
			got := make(chan error, 1)
			go func() {
				_, err := c.ReadEvent(context.Background())
				got <- err
			}()
			time.Sleep(50 * time.Millisecond) // let it block in dispatch
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-got:
				if !errors.Is(err, ErrDisconnected) {
					t.Fatalf("ReadEvent after kill: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("client did not notice the server's death")
			}
			cmd.Process.Wait() // reap: a zombie would still look alive to kill(pid, 0)
			if _, err := c.Request(ctx, echoReq(nil)); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("request to a dead server: %v", err)
			}
			c.Close()
			// Left: at most the empty connection directory (libqb's client
			// removes only the files of a dead server; ours also the directory).
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				files, _ := os.ReadDir(dir + "/" + e.Name())
				if len(files) != 0 {
					t.Fatalf("files of the dead server left in %s: %v", e.Name(), files)
				}
			}
		})
	}
}

// startServerProcess runs the test binary as a server process and waits
// until it listens; the test kills it.
func startServerProcess(t *testing.T, svc string, tr Transport, dir, handler string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %s %s", serveEnv, svc, tr, dir, handler))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("server process: %q %v", line, err)
	}
	return cmd
}
