// Command sim runs the deterministic Totem simulator over many seeds and
// checks extended virtual synchrony after each run (internal/sim). A failing
// seed prints the one command that replays it with a trace.
//
//	go run ./services/totemd/cmd/sim -seeds 2000 -nodes 3-64
//	go run ./services/totemd/cmd/sim -seed 12345 -nodes 7 -trace
//
// With -whole it runs whole nodes instead (node stacks with simulated
// service daemons, internal/sim's RunWhole):
//
//	go run ./services/totemd/cmd/sim -whole -seeds 200 -nodes 3-8
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/needle-cluster/needle/services/totemd/internal/sim"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	seeds    int
	first    uint64
	seed     int64
	nodes    sim.NodeRange
	profile  sim.Profile
	trace    bool
	parallel int
	verbose  bool
	maxEv    uint64
	faults   srp.Faults
	whole    bool
	coroTime bool
	cpuProf  string
}

func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var nodes, profile, broken string
	fs.IntVar(&o.seeds, "seeds", 100, "number of seeds to run")
	fs.Uint64Var(&o.first, "first", 1, "first seed of a -seeds run")
	fs.Int64Var(&o.seed, "seed", -1, "run this one seed only (replay)")
	fs.StringVar(&nodes, "nodes", "3-64", `ring size: "N" or "MIN-MAX" (each seed picks one, mostly small)`)
	fs.StringVar(&profile, "faults", "mixed", "fault profile: "+strings.Join(sim.ProfileNames(), ", "))
	fs.BoolVar(&o.trace, "trace", false, "print one line per event (use with -seed)")
	fs.IntVar(&o.parallel, "parallel", runtime.NumCPU(), "seeds run at once")
	fs.BoolVar(&o.verbose, "v", false, "print one line per seed")
	fs.Uint64Var(&o.maxEv, "max-events", 0, "event budget per run (0 = the simulator's default)")
	fs.BoolVar(&o.whole, "whole", false, "run whole nodes (node stacks with simulated service daemons) instead of SRP cores")
	fs.BoolVar(&o.coroTime, "corosync-timers", false, "corosync's default token (3 s + 650 ms a node above two) instead of the simulator's shortened timers")
	fs.StringVar(&o.cpuProf, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	fs.StringVar(&broken, "broken", "", "deliberately broken core: skip-retransmit, reorder-delivery, skip-old-ring-flush, break-aru (comma-separated)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.nodes, err = sim.ParseNodeRange(nodes); err != nil {
		return o, err
	}
	if o.profile, err = sim.LookupProfile(profile); err != nil {
		return o, err
	}
	for _, b := range strings.Split(broken, ",") {
		switch strings.TrimSpace(b) {
		case "":
		case "skip-retransmit":
			o.faults.SkipRetransmit = true
		case "reorder-delivery":
			o.faults.ReorderDelivery = true
		case "skip-old-ring-flush":
			o.faults.SkipOldRingFlush = true
		case "break-aru":
			o.faults.BreakAru = true
		default:
			return o, fmt.Errorf("-broken %q: unknown fault %q", broken, b)
		}
	}
	if o.whole && (broken != "" || profile != "mixed" || o.maxEv != 0) {
		return o, fmt.Errorf("-whole takes none of -broken, -faults, -max-events")
	}
	if o.seeds < 1 || o.parallel < 1 {
		return o, fmt.Errorf("-seeds and -parallel must be at least 1")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sim:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if os.Getenv("GOGC") == "" {
		// A batch run: memory is cheap beside collection (the whole-node
		// simulator spent a quarter of its time in the collector).
		debug.SetGCPercent(400)
	}
	if o.cpuProf != "" {
		f, err := os.Create(o.cpuProf)
		if err != nil {
			fmt.Fprintln(stderr, "sim: -cpuprofile:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "sim: -cpuprofile:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	switch {
	case o.whole && o.seed >= 0:
		return replayWhole(o, stdout)
	case o.whole:
		return soakWhole(ctx, o, stdout)
	case o.seed >= 0:
		return replay(o, stdout)
	}
	return soak(ctx, o, stdout)
}

// runSeed simulates one seed of the SRP simulator.
func runSeed(o options, seed uint64, trace io.Writer) (sim.Result, seedOutcome) {
	opts := sim.Options{Seed: seed, Nodes: o.nodes.Pick(seed), Profile: o.profile, CoreFaults: o.faults, MaxEvents: o.maxEv, CorosyncTimers: o.coroTime}
	if trace != nil {
		opts.Trace = trace
	}
	res := sim.Run(opts)
	return res, seedOutcome{violations: res.Total, events: res.Events,
		print: func(w io.Writer, verbose bool) { printResult(w, res, verbose) }}
}

// replay runs one seed, with the trace if asked.
func replay(o options, stdout io.Writer) int {
	return replayOne(o, stdout, func(seed uint64, trace io.Writer) seedOutcome {
		_, out := runSeed(o, seed, trace)
		return out
	}, "")
}

func printResult(w io.Writer, res sim.Result, verbose bool) {
	if res.Total == 0 {
		if verbose {
			fmt.Fprintf(w, "seed=%d nodes=%d ok events=%d virtual=%s healed=%s formed=%s accepted=%d delivered=%d rings=%d cold_formation=%s formations=%d slowest_formation=%s",
				res.Seed, res.Nodes, res.Events, res.End, res.Healed, res.Formed, res.Accepted, res.Delivered, res.Rings,
				res.ColdFormation, res.Formations, res.SlowestFormation)
			if res.SlowestStop > 0 {
				fmt.Fprintf(w, " slowest_after_stop=%s", res.SlowestStop)
			}
			if res.SlowestChange != "" {
				fmt.Fprintf(w, " (after the %s)", res.SlowestChange)
			}
			fmt.Fprintln(w)
		}
		return
	}
	fmt.Fprintf(w, "FAIL seed=%d nodes=%d faults=%s: %d violation(s)\n", res.Seed, res.Nodes, res.Profile, res.Total)
	for _, v := range res.Violations {
		fmt.Fprintf(w, "  %s\n", v)
	}
	if verbose {
		fmt.Fprintf(w, "  cold_formation=%s formations=%d slowest_formation=%s\n", res.ColdFormation, res.Formations, res.SlowestFormation)
	}
	fmt.Fprintf(w, "  replay: %s\n", res.ReplayCommand())
}

// soak runs o.seeds seeds on o.parallel workers and prints progress, failures
// and, last, the summary line.
func soak(ctx context.Context, o options, stdout io.Writer) int {
	var slowest, slowestStop sim.Result // the seeds with the slowest formation after a clean change, a clean stop
	t := forSeeds(ctx, o, stdout, func(seed uint64) (sim.Result, seedOutcome) { return runSeed(o, seed, nil) },
		func(res sim.Result) {
			if res.SlowestFormation > slowest.SlowestFormation {
				slowest = res
			}
			if res.SlowestStop > slowestStop.SlowestStop {
				slowestStop = res
			}
		})
	fmt.Fprintf(stdout, "seeds=%d violations=%d failing_seeds=%d seeds_per_min=%.0f events=%d wall=%s nodes=%s faults=%s first=%d slowest_formation=%s",
		t.done, t.violations, t.failed, t.perMinute(), t.events, t.elapsed.Round(time.Second), o.nodes, o.profile.Name, o.first,
		slowest.SlowestFormation)
	if slowest.SlowestFormation > 0 {
		fmt.Fprintf(stdout, " (seed %d, %d nodes, after the %s)", slowest.Seed, slowest.Nodes, slowest.SlowestChange)
	}
	if slowestStop.SlowestStop > 0 {
		fmt.Fprintf(stdout, " slowest_after_stop=%s (seed %d, %d nodes)", slowestStop.SlowestStop, slowestStop.Seed, slowestStop.Nodes)
	}
	fmt.Fprintln(stdout)
	return t.exitCode(o)
}
