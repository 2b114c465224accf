package qbipc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(cmd.Process.Pid) // reaped: no such process any more
	live := strconv.Itoa(os.Getpid())
	mk := func(name string, files ...string) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(p, f), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	stale := mk("qb-"+dead+"-10-7-AbCd12", "qb-request-cmap-header", "qb-request-cmap-data", "qb-event-cmap-data")
	staleSock := mk("qb-"+dead+"-11-8-xyz", "qb-control-cpg")
	empty := mk("qb-" + dead + "-12-9-empty")
	keep := []string{
		mk("qb-"+live+"-10-7-alive", "qb-request-cmap-header"),
		mk("qb-"+dead+"-10-7-foreign", "qb-request-cmap-header", "notes.txt"),
		mk("qb-"+dead+"-10-7-othersvc", "qb-request-pcmk-header"),
		mk("qb-"+dead+"-x-7-badname", "qb-request-cmap-header"),
		mk("qb-"+dead+"-10-7", "qb-request-cmap-header"),
	}
	removed, err := RemoveStale(dir, []string{"cmap", "cpg"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{stale: true, staleSock: true, empty: true}
	if len(removed) != len(want) {
		t.Fatalf("removed %v", removed)
	}
	for _, p := range removed {
		if !want[p] {
			t.Fatalf("removed %s", p)
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s still there", p)
		}
	}
	for _, p := range keep {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s removed: %v", p, err)
		}
	}
}
