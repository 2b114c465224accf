package integration

import (
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// mixedNodes starts and kills the nodes of a mixed cluster of Debian's
// corosync 3.1.7 and needle (the quorum and cpg mixed-ring tests): the
// first real ones run corosync, the others totemd + cmapd + quorumd, and
// cpgd too when cpgd is set.
type mixedNodes struct {
	t     *testing.T
	c     *harness.Cluster
	real  int
	cpgd  bool
	procs []*harness.Proc // every process started, for the failure dump
	now   map[int][]*harness.Proc
}

// The index of each needle daemon in mixedNodes.now[i].
const (
	mixedTotemd = iota
	mixedCmapd
	mixedQuorumd
	mixedCpgd
)

func (m *mixedNodes) isReal(i int) bool { return i < m.real }

func (m *mixedNodes) start(i int) {
	nd := m.c.Nodes[i]
	var ps []*harness.Proc
	if m.isReal(i) {
		p, err := nd.Start("corosync", "corosync", "-f")
		if err != nil {
			m.t.Fatal(err)
		}
		ps = append(ps, p)
	} else {
		ps = append(ps, startTotemd(m.t, nd))
		ds := []struct{ name, bin string }{{"cmapd", cmapBins.cmapd}, {"quorumd", quorumBins.quorumd}}
		if m.cpgd {
			ds = append(ds, struct{ name, bin string }{"cpgd", cpgdBin.path})
		}
		for _, d := range ds {
			p, err := nd.Start(d.name, d.bin, "-f")
			if err != nil {
				m.t.Fatal(err)
			}
			ps = append(ps, p)
		}
	}
	m.now[i] = ps
	m.procs = append(m.procs, ps...)
}

func (m *mixedNodes) kill(i int) {
	for _, p := range m.now[i] {
		if err := p.Kill(); err != nil {
			m.t.Fatal(err)
		}
	}
}

// restartDaemon ends needle node i's daemon at index d of now[i] (SIGTERM,
// or SIGKILL when kill is set), waits down and starts another.
func (m *mixedNodes) restartDaemon(i, d int, kill bool, down time.Duration) {
	old := m.now[i][d]
	var err error
	if kill {
		err = old.Kill()
	} else {
		err = old.Stop(10 * time.Second)
	}
	if err != nil {
		m.t.Fatal(err)
	}
	time.Sleep(down)
	bin := map[int]string{mixedCmapd: cmapBins.cmapd, mixedQuorumd: quorumBins.quorumd, mixedCpgd: cpgdBin.path}[d]
	p, err := m.c.Nodes[i].Start(old.Name, bin, "-f")
	if err != nil {
		m.t.Fatal(err)
	}
	m.now[i][d] = p
	m.procs = append(m.procs, p)
}
