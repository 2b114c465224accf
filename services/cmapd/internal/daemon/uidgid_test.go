package daemon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/client"
)

// clientEnv makes the test binary a one-shot cmap client that prints the
// cs_error_t of connecting and reading a key (see TestUIDGIDRules).
const clientEnv = "CMAPD_TEST_CLIENT"

func asClient() int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.MapDefault)
	if err == nil {
		_, err = c.Get(ctx, "totem.cluster_name")
		c.Close()
	}
	fmt.Print(client.Code(err).Error())
	return 0
}

// clientBinary copies the test binary where another user may run it.
func clientBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cmapd-client-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// connectAs runs asClient as uid/gid and returns what it printed.
func connectAs(t *testing.T, bin string, uid, gid uint32) string {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), clientEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as %d:%d: %v: %s", uid, gid, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestUIDGIDRules: root always connects; another user only once
// uidgid.uid.<uid> or uidgid.gid.<gid> is u8 1, as in corosync.
func TestUIDGIDRules(t *testing.T) {
	h := startDaemon(t, "shm")
	root := dial(t)
	bin := clientBinary(t)
	ctx := context.Background()
	if got := connectAs(t, bin, 65534, 65534); got != "CS_ERR_ACCESS" {
		t.Fatalf("unlisted user: %s", got)
	}
	if !strings.Contains(h.log.String(), "Denied connection attempt from 65534:65534") {
		t.Errorf("refusal not logged:\n%s", h.log.String())
	}
	if err := root.Set(ctx, "uidgid.gid.65534", value.U8(1)); err != nil {
		t.Fatal(err)
	}
	if got := connectAs(t, bin, 65534, 65534); got != "CS_OK" {
		t.Fatalf("listed gid: %s", got)
	}
	if err := root.Delete(ctx, "uidgid.gid.65534"); err != nil {
		t.Fatal(err)
	}
	if err := root.Set(ctx, "uidgid.uid.65534", value.U8(2)); err != nil {
		t.Fatal(err)
	}
	if got := connectAs(t, bin, 65534, 65534); got != "CS_ERR_ACCESS" {
		t.Fatalf("uid key not 1: %s", got)
	}
	if got := connectAs(t, bin, 65534, 0); got != "CS_OK" {
		t.Fatalf("gid 0: %s", got)
	}
}
