package qbipc

import (
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
// daemon of another test on this host, and give corosync a private /run.
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
		if strings.Contains(string(out), "operation not permitted") {
			t.Skipf("cannot create namespaces: %v", err)
		}
		t.Fatalf("child failed: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP: "+t.Name()) {
		t.Skip("skipped in the child (see its output)")
	}
	return false
}

// setupChildNamespaces brings up loopback and mounts a private /run.
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
	return unix.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755")
}
