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
// VQSIM_FIRST_SEED shifts the range; VQSIM_PARALLEL bounds the vqsim
// processes (default 12: they mostly sleep); VQSIM_STRICT=1 fails on any
// disagreeing scenario instead of on more than 3 %. In even seeds' models
// every core is handed over (snapshot, restore) after every step.
func TestAgainstVqsim(t *testing.T) {
	if _, err := exec.LookPath(Binary); err != nil {
		t.Skipf("%s is not installed (Debian package corosync-vqsim): %v", Binary, err)
	}
	strict := os.Getenv("VQSIM_STRICT") != ""
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
	var total, ambiguous, initErrs, steps, failed, barrier, async, racy, unstable int
	dir := t.TempDir()
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				r, err := Check(context.Background(), dir, Generate(seed))
				rerun := false
				if err != nil {
					// vqsim's interleaving differs run to run: a
					// disagreement counts when it reproduces.
					if r2, err2 := Check(context.Background(), dir, Generate(seed)); err2 == nil {
						r, err, rerun = r2, nil, true
					}
				}
				mu.Lock()
				if rerun {
					unstable++
				}
				total++
				steps += r.Steps
				if r.Ambiguous {
					ambiguous++
				}
				if r.Racy {
					racy++
				}
				if r.Barrier {
					barrier++
				}
				if r.Async {
					async++
				}
				if r.InitError != "" {
					initErrs++
				}
				if err != nil {
					failed++
					if strict {
						t.Error(err)
					} else {
						t.Log(err)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%d scenarios, %d steps compared, %d start-up errors agreed, %d stopped early on timer ambiguity, %d stopped where vqsim's own partition members disagreed (no sync barrier in vqsim), %d disagreed once but not on a rerun, %d failed; vqsim agreed to the end with the barrier model in %d, the async model in %d",
		total, steps, initErrs, ambiguous, racy, unstable, failed, barrier, async)
	// vqsim has no sync barrier and its nodes' timers fire in no fixed
	// order; a few scenarios per hundred end in states that depend on that
	// interleaving (nodes activate before peers' stale NODEINFO arrive).
	// Each is logged with its replay script. More than 3 % disagreeing
	// means the core is wrong, not vqsim's scheduling.
	if !strict && failed*100 > total*3 {
		t.Errorf("%d of %d scenarios disagree with corosync-vqsim (tolerance 3 %%; VQSIM_STRICT=1 fails on any)", failed, total)
	}
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}
