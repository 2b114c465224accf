package qbipc

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// RemoveStale removes per-connection directories that a crashed server
// left in dir ("" = /dev/shm): named qb-<server pid>-<client pid>-<fd>-<x>,
// whose server pid no longer exists, holding nothing but libqb's file names
// for the given services. Daemons call it at startup (spec §6.7). It
// returns the directories removed.
func RemoveStale(dir string, services []string) ([]string, error) {
	if dir == "" {
		dir = "/dev/shm"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("stale connection directories: %w", err)
	}
	known := map[string]bool{}
	for _, s := range services {
		known["qb-control-"+s] = true
		for _, k := range []string{"request", "response", "event"} {
			known["qb-"+k+"-"+s+"-header"] = true
			known["qb-"+k+"-"+s+"-data"] = true
		}
	}
	var removed []string
	for _, e := range ents {
		pid, ok := serverPID(e.Name())
		if !ok || !e.IsDir() || unix.Kill(pid, 0) != unix.ESRCH {
			continue
		}
		p := filepath.Join(dir, e.Name())
		files, err := os.ReadDir(p)
		if err != nil {
			continue
		}
		ours := true
		for _, f := range files {
			ours = ours && known[f.Name()]
		}
		if !ours {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return removed, fmt.Errorf("remove stale %s: %w", p, err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}

// serverPID parses the server pid out of qb-<pid>-<pid>-<fd>-<suffix>.
func serverPID(name string) (int, bool) {
	f := strings.SplitN(name, "-", 5)
	if len(f) != 5 || f[0] != "qb" || f[4] == "" {
		return 0, false
	}
	var pid int
	for i := 1; i < 4; i++ {
		n, err := strconv.Atoi(f[i])
		if err != nil || n < 0 {
			return 0, false
		}
		if i == 1 {
			pid = n
		}
	}
	return pid, pid > 0
}
