package nstest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Totemd runs a real totemd on the configuration text conf for the rest of
// the test (in the test's namespaces, see Run) and returns the path of the
// configuration file. The binary is $NEEDLE_TOTEMD, or built from pkg (the
// totemd package's path from the test's directory). Its output is logged
// when the test fails. A service daemon's tests attach to it as the real
// daemon does.
func Totemd(t testing.TB, pkg, conf string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "corosync.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	totemd := os.Getenv("NEEDLE_TOTEMD")
	if totemd == "" {
		totemd = filepath.Join(dir, "totemd")
		if b, err := exec.Command("go", "build", "-o", totemd, pkg).CombinedOutput(); err != nil {
			t.Fatalf("build totemd: %v: %s", err, b)
		}
	}
	var out bytes.Buffer
	cmd := exec.Command(totemd, "-f", "-c", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("totemd:\n%s", out.String())
		}
	})
	return path
}

// Daemon runs a service daemon's Run (svchost.Daemon.Run) until the
// returned stop is called or the test ends; stop waits for Run and fails
// the test with its error. Calling stop again does nothing.
func Daemon(t testing.TB, name string, run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	t.Cleanup(stop)
	return stop
}
