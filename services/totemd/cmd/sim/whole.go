package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/needle-cluster/needle/services/totemd/internal/sim"
)

// replayWhole runs one whole-node seed, with the trace if asked.
func replayWhole(o options, stdout io.Writer) int {
	w := bufio.NewWriterSize(stdout, 1<<16)
	defer w.Flush()
	seed := uint64(o.seed)
	opts := sim.WholeOptions{Seed: seed, Nodes: o.nodes.Pick(seed)}
	if o.trace {
		opts.Trace = w
	}
	start := time.Now()
	res := sim.RunWhole(opts)
	printWhole(w, res, true)
	fmt.Fprintf(w, "seeds=1 violations=%d events=%d wall=%s whole=true\n", res.Total, res.Events, time.Since(start).Round(time.Millisecond))
	if res.Total > 0 {
		return 1
	}
	return 0
}

func printWhole(w io.Writer, res sim.WholeResult, verbose bool) {
	if res.Total == 0 {
		if verbose {
			fmt.Fprintf(w, "seed=%d nodes=%d ok events=%d virtual=%s partition=%s healed=%s formed=%s accepted=%d delivered=%d restarts=%d rounds=%d aborts=%d try_again=%d\n",
				res.Seed, res.Nodes, res.Events, res.End, res.Partition, res.Healed, res.Formed, res.Accepted, res.Delivered, res.Restarts, res.Rounds, res.Aborts, res.TryAgains)
		}
		return
	}
	fmt.Fprintf(w, "FAIL whole seed=%d nodes=%d: %d violation(s)\n", res.Seed, res.Nodes, res.Total)
	for _, v := range res.Violations {
		fmt.Fprintf(w, "  %s\n", v)
	}
	fmt.Fprintf(w, "  replay: %s\n", res.ReplayCommand())
}

// soakWhole runs o.seeds whole-node seeds on o.parallel workers; the
// summary line comes last.
func soakWhole(ctx context.Context, o options, stdout io.Writer) int {
	var mu sync.Mutex
	var next, finished, failed, violations, events, restarts, rounds atomic.Uint64
	start := time.Now()
	total := uint64(o.seeds)
	var wg sync.WaitGroup
	for range o.parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				seed := o.first + i
				res := sim.RunWhole(sim.WholeOptions{Seed: seed, Nodes: o.nodes.Pick(seed)})
				events.Add(res.Events)
				restarts.Add(uint64(res.Restarts))
				rounds.Add(uint64(res.Rounds))
				if res.Total > 0 {
					failed.Add(1)
					violations.Add(uint64(res.Total))
				}
				finished.Add(1)
				mu.Lock()
				printWhole(stdout, res, o.verbose)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	done := finished.Load()
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "seeds=%d violations=%d failing_seeds=%d seeds_per_min=%.0f events=%d wall=%s nodes=%s first=%d whole=true daemon_restarts=%d rounds=%d\n",
		done, violations.Load(), failed.Load(), float64(done)/elapsed.Minutes(), events.Load(), elapsed.Round(time.Second), o.nodes, o.first,
		restarts.Load(), rounds.Load())
	if failed.Load() > 0 || done < total {
		return 1
	}
	return 0
}
