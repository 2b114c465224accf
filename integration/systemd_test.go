package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSystemdUnitsVerify runs `systemd-analyze verify` on every unit in
// deploy/systemd. verify refuses a unit whose ExecStart binary does not
// exist, so the daemons are built and installed where the units name them
// (/usr/local/sbin) — but only inside a private mount namespace, on a tmpfs
// that hides the host's /usr/local/sbin: the host is never touched.
// Skipped only where systemd-analyze (Debian package "systemd") or
// unshare is absent.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a private mount namespace")
	}
	units, err := filepath.Glob("../deploy/systemd/*")
	if err != nil || len(units) == 0 {
		t.Fatalf("no units in ../deploy/systemd: %v", err)
	}
	sbin := t.TempDir()
	var execs []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if !ok || !strings.HasPrefix(k, "Exec") {
				continue
			}
			bin := strings.TrimLeft(strings.Fields(v)[0], "-@:+!")
			if !strings.HasPrefix(bin, "/usr/local/sbin/") {
				t.Fatalf("%s: %s runs %s, not an installed needle binary (update this test)", u, k, bin)
			}
			execs = append(execs, filepath.Base(bin))
		}
	}
	pkgs := map[string]string{
		"totemd": "../services/totemd", "cmapd": "../services/cmapd", "quorumd": "../services/quorumd",
		"cpgd": "../services/cpgd",
	}
	for _, name := range execs {
		if _, err := os.Stat(filepath.Join(sbin, name)); err == nil {
			continue
		}
		pkg, ok := pkgs[name]
		if !ok {
			t.Fatalf("a unit runs /usr/local/sbin/%s: no package known for it (update this test)", name)
		}
		if out, err := exec.Command("go", "build", "-o", filepath.Join(sbin, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v: %s", pkg, err, out)
		}
	}
	abs := make([]string, len(units))
	for i, u := range units {
		abs[i], _ = filepath.Abs(u)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := `set -e
mount -t tmpfs -o mode=0755 needle-sbin /usr/local/sbin
cp -a "$1"/. /usr/local/sbin/
shift
exec "$@"`
	args := append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", sbin, analyze, "verify"}, abs...)
	out, err := exec.CommandContext(ctx, "unshare", args...).CombinedOutput()
	// verify exits 0 and prints nothing for clean units; any line is a
	// finding (warnings do not change its exit status).
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", strings.Join(units, " "), err, out)
	}
}
