package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/needle-cluster/needle/services/totemd/internal/sim"
)

// runWholeSeed simulates one seed of whole nodes.
func runWholeSeed(o options, seed uint64, trace io.Writer) (sim.WholeResult, seedOutcome) {
	opts := sim.WholeOptions{Seed: seed, Nodes: o.nodes.Pick(seed), CorosyncTimers: o.coroTime}
	if trace != nil {
		opts.Trace = trace
	}
	res := sim.RunWhole(opts)
	return res, seedOutcome{violations: res.Total, events: res.Events,
		print: func(w io.Writer, verbose bool) { printWhole(w, res, verbose) }}
}

// replayWhole runs one whole-node seed, with the trace if asked.
func replayWhole(o options, stdout io.Writer) int {
	return replayOne(o, stdout, func(seed uint64, trace io.Writer) seedOutcome {
		_, out := runWholeSeed(o, seed, trace)
		return out
	}, " whole=true")
}

func printWhole(w io.Writer, res sim.WholeResult, verbose bool) {
	if res.Total == 0 {
		if verbose {
			fmt.Fprintf(w, "seed=%d nodes=%d ok events=%d virtual=%s partition=%s lossy=%s loss=%.3f dup=%.3f crashed=%s stopped=%v left_in=%s healed=%s formed=%s accepted=%d delivered=%d restarts=%d handovers=%d handovers_late=%d held=%d rounds=%d aborts=%d try_again=%d by_cfg=%q cfg_answered=%d cfg_messages=%d\n",
				res.Seed, res.Nodes, res.Events, res.End, res.Partition, res.Lossy, res.Loss, res.Dup, res.Crashed, res.Stopped, res.LeftIn, res.Healed, res.Formed, res.Accepted, res.Delivered, res.Restarts,
				res.Handovers, res.HandoversLate, res.HeldFrames, res.Rounds, res.Aborts, res.TryAgains, res.ByCfg, res.CfgAnswered, res.CfgMessages)
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
	var restarts, handovers, late, rounds, cfgAnswered, cfgStops int
	t := forSeeds(ctx, o, stdout, func(seed uint64) (sim.WholeResult, seedOutcome) { return runWholeSeed(o, seed, nil) },
		func(res sim.WholeResult) {
			restarts, rounds, cfgAnswered = restarts+res.Restarts, rounds+res.Rounds, cfgAnswered+res.CfgAnswered
			handovers, late = handovers+res.Handovers, late+res.HandoversLate
			if res.ByCfg != "" {
				cfgStops++
			}
		})
	fmt.Fprintf(stdout, "seeds=%d violations=%d failing_seeds=%d seeds_per_min=%.0f events=%d wall=%s nodes=%s first=%d whole=true daemon_restarts=%d handovers=%d handovers_late=%d rounds=%d cfg_answered=%d cfg_stops=%d\n",
		t.done, t.violations, t.failed, t.perMinute(), t.events, t.elapsed.Round(time.Second), o.nodes, o.first, restarts, handovers, late, rounds, cfgAnswered, cfgStops)
	return t.exitCode(o)
}
