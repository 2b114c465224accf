package sim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// TestCfgCheckerCatches: cfg ring messages two stacks got in one ring in
// different orders, or one stack got twice, are reported; one order, or
// a window of it, is not.
func TestCfgCheckerCatches(t *testing.T) {
	reload := func(conn uint64) []byte {
		return cfg.ReloadConfigExec{Source: cfg.Source{NodeID: 1, Conn: conn}}.Encode()
	}
	r := srp.RingID{Rep: 1, Seq: 8}
	for _, tc := range []struct {
		name string
		a, b []uint64 // reloads of n1's connections, as n1's and n2's stacks got them
		want bool
	}{
		{"same", []uint64{1, 2, 3}, []uint64{1, 2, 3}, false},
		{"window", []uint64{1, 2, 3}, []uint64{2, 3}, false},
		{"order", []uint64{1, 2, 3}, []uint64{2, 1, 3}, true},
		{"twice", []uint64{1, 2, 3}, []uint64{1, 2, 2, 3}, true},
	} {
		s := &wsim{chk: NewSvcChecker()}
		s.cfgc = newCfgChecker(s)
		for i, convs := range [][]uint64{tc.a, tc.b} {
			obs := s.cfgc.observer(&wnode{id: srp.NodeID(i + 1)}, 1)
			for _, c := range convs {
				obs(r, 1, reload(c), false)
			}
		}
		s.cfgc.finish()
		if got := s.chk.Total() > 0; got != tc.want || got && s.chk.Violations()[0].Kind != KindCfg {
			t.Errorf("%s: violations %v, want some: %v", tc.name, s.chk.Violations(), tc.want)
		}
	}
}

// TestWholeNodeCfgStops: the first seeds from 700001 on whose fault is a
// cfg KILL_NODE and a cfg shutdown pass: the killed node exits, the one
// asked to shut down leaves the ring cleanly (every other node leaves it
// behind within the token timeout), both come back to one ring of all,
// and the run's cfg clients were answered.
func TestWholeNodeCfgStops(t *testing.T) {
	var kill, shutdown bool
	for seed := uint64(700001); seed < 700400 && !(kill && shutdown); seed++ {
		r := RunWhole(WholeOptions{Seed: seed, Nodes: 3 + int(seed%3)})
		if r.ByCfg == "" || r.ByCfg == "kill" && kill || r.ByCfg == "shutdown" && shutdown {
			continue
		}
		if r.Total > 0 {
			t.Fatalf("seed %d, %d nodes: %d violations: %v\nreplay: %s", r.Seed, r.Nodes, r.Total, r.Violations, r.ReplayCommand())
		}
		if r.Formed <= r.Healed || r.Healed <= r.Crashed || r.CfgAnswered == 0 || r.CfgMessages == 0 {
			t.Fatalf("seed %d: %+v", seed, r)
		}
		if r.ByCfg == "shutdown" {
			shutdown = true
			if token := CoreConfig(1, make([]srp.NodeID, r.Nodes), 1).Token; !r.Stopped || r.LeftIn <= 0 || r.LeftIn >= token {
				t.Fatalf("seed %d: shut down through cfg, left behind in %v (stopped %v), want within %v", seed, r.LeftIn, r.Stopped, token)
			}
		} else {
			kill = true
			if r.Stopped {
				t.Fatalf("seed %d: a killed node left the ring cleanly", seed)
			}
		}
		t.Logf("seed %d, %d nodes: %s at %v, back at %v, one ring of all at %v; %d cfg answers, %d cfg messages",
			seed, r.Nodes, r.ByCfg, r.Crashed, r.Healed, r.Formed, r.CfgAnswered, r.CfgMessages)
	}
	if !kill || !shutdown {
		t.Fatalf("among 400 seeds: a cfg kill %v, a cfg shutdown %v", kill, shutdown)
	}
}

// TestWholeNodeDeterministic: one seed run twice, cfg clients and all,
// gives the same trace and result.
func TestWholeNodeDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	r1 := RunWhole(WholeOptions{Seed: 700002, Nodes: 4, Trace: &a})
	r2 := RunWhole(WholeOptions{Seed: 700002, Nodes: 4, Trace: &b})
	if !bytes.Equal(a.Bytes(), b.Bytes()) || r1.Events != r2.Events || r1.CfgAnswered != r2.CfgAnswered {
		t.Fatalf("two runs of one seed differ: %d vs %d events, %d vs %d cfg answers", r1.Events, r2.Events, r1.CfgAnswered, r2.CfgAnswered)
	}
	if !strings.Contains(a.String(), "cfg delivers reload") {
		t.Fatal("no cfg reload in the trace")
	}
	r3 := RunWhole(WholeOptions{Seed: 700002, Nodes: 4})
	if r3.Events != r1.Events {
		t.Fatalf("the trace changed the run: %d vs %d events", r3.Events, r1.Events)
	}
}
