package vqsimtest

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
)

// TestAgainstVqsim runs VQSIM_SCENARIOS (default 300) generated scenarios
// through corosync-vqsim and the core; VQSIM_SEED=N replays one seed;
// VQSIM_FIRST_SEED shifts the range; VQSIM_KEEP=1 keeps every session's
// directory (c.conf, relay.trace, votequorum.log) and prints where;
// VQSIM_PARALLEL bounds the vqsim processes (default 12: they mostly
// sleep). vqsim runs under strace
// (Debian package strace), which records the messages its controller
// relays (relay.go).
//
// Every scenario must agree: in every step, every votequorum message
// vqsim's nodes multicast (each NODEINFO with the node's votes, expected
// votes and flags), in vqsim's relay order, must be what the cores send in
// one of vqsim's possible orderings, and after every step vqsim's settled
// state (every node's partition, view list and quorate decision) must be
// one those orderings reach; anything else fails the test with the seed's
// replay script. Every scenario ends with a step that has every live node
// send its NODEINFO again (Generate), so the state it ends in is compared
// too. A last_man_standing timer of some possible state that could fire
// while a step's round runs, or at the read, is waited out first (it
// fires, then the step is sent or vqsim read again), so vqsim's real-time
// timers race nothing. A scenario stops being compared only for a reason
// computed from the scenario and the step's timing, never from a
// disagreement: a timer the round itself armed, due before the round's
// messages landed, or still racing after MaxTimerWaits waits
// (Ambiguous), or more than MaxWorlds possible states (Unbounded). The cores are restored from their
// snapshots after every step (the Explorer keeps states as snapshots), so
// the handover is exercised in every scenario.
func TestAgainstVqsim(t *testing.T) {
	if _, err := exec.LookPath(Binary); err != nil {
		t.Skipf("%s is not installed (Debian package corosync-vqsim): %v", Binary, err)
	}
	if _, err := exec.LookPath(Tracer); err != nil {
		t.Fatalf("%s is needed to read vqsim's relays (Debian package strace): %v", Tracer, err)
	}
	n, first, par := envInt("VQSIM_SCENARIOS", 300), envInt("VQSIM_FIRST_SEED", 1), envInt("VQSIM_PARALLEL", 12)
	seeds := make(chan uint64)
	go func() {
		if s, ok := os.LookupEnv("VQSIM_SEED"); ok {
			v, _ := strconv.ParseUint(s, 10, 64)
			seeds <- v
		} else {
			for i := 0; i < n; i++ {
				seeds <- uint64(first + i)
			}
		}
		close(seeds)
	}()
	var mu sync.Mutex
	var total, ambiguous, unbounded, initErrs, steps, failed, branched, branchedSteps int
	dir := t.TempDir()
	if os.Getenv("VQSIM_KEEP") != "" {
		// the sessions' directories outlive the test (vqsim.go's Close)
		var err error
		if dir, err = os.MkdirTemp("", "vqsim-keep"); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				r, err := Check(context.Background(), dir, Generate(seed))
				mu.Lock()
				total++
				steps += r.Steps
				if r.Ambiguous {
					ambiguous++
				}
				if r.Unbounded {
					unbounded++
				}
				if r.Branched > 0 {
					branched++
					branchedSteps += r.Branched
				}
				if r.InitError != "" {
					initErrs++
				}
				if err != nil {
					failed++
					t.Error(err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d scenarios, %d steps compared, %d start-up errors agreed, %d stopped early on timer ambiguity, %d stopped early on more than %d possible states, %d failed; %d scenarios had %d steps where vqsim's orderings allowed more than one outcome",
		total, steps, initErrs, ambiguous, unbounded, MaxWorlds, failed, branched, branchedSteps)
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}
