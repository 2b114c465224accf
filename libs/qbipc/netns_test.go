package qbipc

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

const netnsEnv = "QBIPC_TEST_NETNS"

// inPrivateNamespaces runs the calling top-level test again in a child
// process with its own network and mount namespaces, so that it may serve
// or use the real service names ("cmap") without meeting a corosync or a
// daemon of another test on this host (abstract socket names are per
// network namespace).
// It returns true in the child, where the test body runs; in the parent it
// reports the child's result and returns false.
func inPrivateNamespaces(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == t.Name() {
		if err := setupChildNamespaces(); err != nil {
			t.Fatalf("namespace setup: %v", err)
		}
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network and mount namespaces")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsEnv+"="+t.Name())
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

// setupChildNamespaces brings up loopback and mounts a private /run (for
// corosync's pid file) and /dev/shm (so that whatever corosync leaves there,
// its blackbox for one, vanishes with the namespace).
func setupChildNamespaces() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	for _, m := range []struct{ dir, opts string }{{"/run", "mode=0755"}, {"/dev/shm", "mode=1777"}} {
		if err := unix.Mount("tmpfs", m.dir, "tmpfs", 0, m.opts); err != nil {
			return fmt.Errorf("mount tmpfs on %s: %w", m.dir, err)
		}
	}
	return nil
}
