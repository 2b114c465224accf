package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// seedOutcome is what the seed loop needs of one simulated seed: its
// violation count and simulated events, and how to print it.
type seedOutcome struct {
	violations int
	events     uint64
	print      func(w io.Writer, verbose bool)
}

// seedTally is the seed loop's summary.
type seedTally struct {
	done, failed, violations, events uint64
	elapsed                          time.Duration
}

func (t seedTally) perMinute() float64 { return float64(t.done) / t.elapsed.Minutes() }

// forSeeds runs o.seeds consecutive seeds from o.first on o.parallel
// workers (the SRP and the whole-node soaks alike). Each seed's result is
// handed to observe and its outcome printed, under one lock in completion
// order; a progress line follows every twentieth of the seeds.
func forSeeds[R any](ctx context.Context, o options, stdout io.Writer, run func(seed uint64) (R, seedOutcome), observe func(R)) seedTally {
	var mu sync.Mutex
	var next, finished, failed, violations, events atomic.Uint64
	start := time.Now()
	total := uint64(o.seeds)
	report := max(total/20, 1)
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
				r, res := run(o.first + i)
				events.Add(res.events)
				if res.violations > 0 {
					failed.Add(1)
					violations.Add(uint64(res.violations))
				}
				done := finished.Add(1)
				mu.Lock()
				observe(r)
				res.print(stdout, o.verbose)
				if done%report == 0 && done < total {
					fmt.Fprintf(stdout, "progress %d/%d seeds, %d failing, %.0f seeds/min\n",
						done, total, failed.Load(), float64(done)/time.Since(start).Minutes())
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return seedTally{done: finished.Load(), failed: failed.Load(), violations: violations.Load(), events: events.Load(), elapsed: time.Since(start)}
}

// exitCode is a soak's exit status: 1 when a seed failed or not all ran.
func (t seedTally) exitCode(o options) int {
	if t.failed > 0 || t.done < uint64(o.seeds) {
		return 1
	}
	return 0
}

// replayOne runs one seed with its full output (and the trace when
// asked: run gets the writer), then a summary line ending in suffix.
func replayOne(o options, stdout io.Writer, run func(seed uint64, trace io.Writer) seedOutcome, suffix string) int {
	w := bufio.NewWriterSize(stdout, 1<<16)
	defer w.Flush()
	var trace io.Writer
	if o.trace {
		trace = w
	}
	start := time.Now()
	res := run(uint64(o.seed), trace)
	res.print(w, true)
	fmt.Fprintf(w, "seeds=1 violations=%d events=%d wall=%s%s\n", res.violations, res.events, time.Since(start).Round(time.Millisecond), suffix)
	if res.violations > 0 {
		return 1
	}
	return 0
}
