// Package nstest gives tests private network and mount namespaces, so a
// test may serve or use the real libqb service names ("cmap", "cfg") and
// start a real corosync without meeting a corosync or another test's
// daemon on this host: abstract socket names are per network namespace,
// and /run (corosync's pid lock) and /dev/shm can be private tmpfs.
package nstest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// env marks the child process and names the test it runs.
const env = "NEEDLE_TEST_NETNS"

// Tmpfs is a directory to cover with a fresh tmpfs in the child, and the
// mount options for it (e.g. "mode=0755").
type Tmpfs struct {
	Dir, Opts string
}

// Run runs the calling top-level test again in a child process with its
// own network and mount namespaces, set up by Setup(mounts...). It returns
// true in the child, where the test body runs; in the parent it reports
// the child's result and returns false. Without root, or where the kernel
// refuses the namespaces, the test is skipped.
func Run(t *testing.T, mounts ...Tmpfs) bool {
	t.Helper()
	if os.Getenv(env) == t.Name() {
		if err := Setup(mounts...); err != nil {
			t.Fatalf("namespace setup: %v", err)
		}
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network and mount namespaces")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+t.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	t.Logf("child in private namespaces:\n%s", out)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || strings.Contains(string(out), "operation not permitted") {
			t.Skipf("cannot create namespaces: %v", err)
		}
		t.Fatalf("child failed: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP: "+t.Name()) {
		t.Skip("skipped in the child (see its output)")
	}
	return false
}

// Setup prepares namespaces the caller already is in: it brings up
// loopback, makes every mount private (so nothing below leaks to the
// host), and mounts a tmpfs on each of mounts.
func Setup(mounts ...Tmpfs) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	for _, m := range mounts {
		if err := unix.Mount("tmpfs", m.Dir, "tmpfs", 0, m.Opts); err != nil {
			return fmt.Errorf("mount tmpfs on %s: %w", m.Dir, err)
		}
	}
	return nil
}
