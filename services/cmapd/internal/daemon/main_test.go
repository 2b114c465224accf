package daemon

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/needle-cluster/needle/libs/nstest"
)

const nsEnv = "CMAPD_TEST_IN_NETNS"

// TestMain runs the whole test binary again inside private network and
// mount namespaces (when root), so the daemons under test serve the real
// libqb name "cmap" without meeting a corosync or another test's daemon
// on this host; /run and /dev/shm are private tmpfs there, which lets the
// benchmarks start a real corosync too. Without root the tests that need
// it skip.
func TestMain(m *testing.M) {
	if os.Getenv(clientEnv) != "" {
		os.Exit(asClient())
	}
	if conf := os.Getenv(daemonEnv); conf != "" {
		os.Exit(asDaemon(conf))
	}
	if os.Getenv(nsEnv) == "" && os.Geteuid() == 0 {
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), nsEnv+"=1")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Run(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				os.Exit(ee.ExitCode())
			}
			fmt.Fprintln(os.Stderr, "re-run in namespaces:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(nsEnv) != "" {
		if err := nstest.Setup(nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"}); err != nil {
			fmt.Fprintln(os.Stderr, "namespace setup:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func inNamespaces(tb testing.TB) {
	tb.Helper()
	if os.Getenv(nsEnv) == "" {
		tb.Skip("needs root for private network namespaces")
	}
}
