package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// HavePacemaker reports why Pacemaker cannot run here, or "".
func HavePacemaker() string {
	for _, bin := range []string{"pacemakerd", "crm_mon", "cibadmin", "crm_attribute"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Sprintf("pacemaker needs %s (apt-get install pacemaker): %v", bin, err)
		}
	}
	if _, err := user.Lookup("hacluster"); err != nil {
		return "pacemaker needs the hacluster user (apt-get install pacemaker)"
	}
	return ""
}

// PreparePacemaker gives the node private /var/lib/pacemaker and
// /var/log/pacemaker (bound by every later command on the node), laid out
// and owned as Debian's package lays out the system ones.
func (nd *Node) PreparePacemaker() error {
	u, err := user.Lookup("hacluster")
	if err != nil {
		return fmt.Errorf("pacemaker: %w", err)
	}
	g, err := user.LookupGroup("haclient")
	if err != nil {
		return fmt.Errorf("pacemaker: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)
	base := filepath.Join(nd.Dir, "pcmk")
	dirs := map[string]os.FileMode{
		"lib": 0o755, "lib/cib": 0o750, "lib/pengine": 0o750, "lib/blackbox": 0o750, "lib/cores": 0o750,
		"log": 0o770, "log/bundles": 0o770,
	}
	for rel, mode := range dirs {
		p := filepath.Join(base, rel)
		if err := os.MkdirAll(p, mode); err != nil {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
		if rel != "lib" {
			if err := os.Chown(p, uid, gid); err != nil {
				return err
			}
		}
	}
	return nil
}

// StartPacemaker starts Debian's pacemakerd on the node (logging to its
// private /var/log/pacemaker/pacemaker.log, nothing to syslog).
func (nd *Node) StartPacemaker() (*Proc, error) {
	if err := nd.PreparePacemaker(); err != nil {
		return nil, err
	}
	return nd.Start("pacemakerd", "env", "PCMK_logfile=/var/log/pacemaker/pacemaker.log",
		"PCMK_logfacility=none", "PCMK_logpriority=info", "pacemakerd")
}

// PacemakerLog returns the node's pacemaker.log (for failure reports).
func (nd *Node) PacemakerLog() string {
	b, _ := os.ReadFile(filepath.Join(nd.Dir, "pcmk", "log", "pacemaker.log"))
	return string(b)
}

// CrmMonXML runs `crm_mon -1 --output-as=xml` on the node.
func (nd *Node) CrmMonXML(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return nd.Run(ctx, "crm_mon", "-1", "--output-as=xml")
}
