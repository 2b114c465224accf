package vqsimtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Margin is how close a model timer may come to a step's boundaries
// before the step's outcome depends on vqsim's real-time scheduling; such
// scenarios stop being compared at that step (counted as Ambiguous).
const Margin = 60 * time.Millisecond

// SettleRetries is how many more reads a step gets, SettleRetry apart,
// when vqsim's settled state is one no ordering gives: on a loaded
// machine a node's process can sit on a relayed message for longer than
// two reads Settle apart (CI saw node 2 of seed 11 still inquorate beside
// its quorate peer). Only a state that stays impossible through every
// read fails, and every read is held to the same timer checks.
const (
	SettleRetries = 8
	SettleRetry   = 150 * time.Millisecond
)

// MaxTimerWaits bounds how often one step waits for a timer to fire
// before it starts or is read (a timer due then would race it); beyond it
// the scenario stops (Ambiguous).
const MaxTimerWaits = 4

// Result of one scenario.
type Result struct {
	Steps     int  // steps compared
	Ambiguous bool // stopped early on a timer too close to a boundary
	// Unbounded: stopped early, the orderings gave more than MaxWorlds
	// states.
	Unbounded bool
	InitError string
	// Branched counts the steps after which vqsim's orderings allowed
	// more than one outcome (vqsim showed one of them).
	Branched int
}

// Check runs sc through vqsim and the Explorer and returns the first step
// after which vqsim shows a state no ordering of vqsim's rounds gives, as
// an error carrying the replayable script.
func Check(ctx context.Context, dir string, sc Scenario) (Result, error) {
	return check(ctx, dir, sc, tampering{})
}

// tampering changes what vqsim showed before it is compared, for the
// tests that show the comparison reads it: relays what the controller
// relayed in step i, views every read of the nodes' states after step i.
type tampering struct {
	relays func(i int, rs []Relay)
	views  func(i int, nodes map[uint32]NodeView)
}

// check is Check, with what vqsim showed changed by tamper.
func check(ctx context.Context, dir string, sc Scenario, tamper tampering) (Result, error) {
	fail := func(format string, a ...any) (Result, error) {
		return Result{}, fmt.Errorf("seed %d: %s\nreplay (VQSIM_SEED=%d, or pipe the commands into `corosync-vqsim -c c.conf`):\n%s",
			sc.Seed, fmt.Sprintf(format, a...), sc.Seed, sc.Script())
	}
	ex, merr := NewExplorer(sc)
	sess, err := Start(ctx, dir, sc)
	if err != nil {
		return Result{}, fmt.Errorf("seed %d: %w", sc.Seed, err)
	}
	closed := false
	defer func() {
		if !closed {
			sess.Close()
		}
	}()
	if merr != nil {
		// start the first node, give it time to fail its init, then
		// compare texts
		if err := sess.Send(sc.Boot[0].Command()); err != nil {
			return fail("%v", err)
		}
		time.Sleep(100 * time.Millisecond)
		initErr := sess.Close()
		closed = true
		switch {
		case initErr == "":
			return fail("the core refused the configuration (%v), vqsim accepted it", merr)
		case !strings.Contains(merr.Error(), initErr):
			return fail("start-up errors differ: core %q, vqsim %q", merr, initErr)
		}
		return Result{InitError: initErr}, nil
	}
	var res Result
	// slack is how much later than the model vqsim may have armed a
	// timer: the model runs each round at the step's time, vqsim's nodes
	// anywhere up to the round's last membership report (synced). Kept as the
	// scenario's largest such span (a loaded machine can stretch a round
	// to hundreds of milliseconds: CI's seed 115 read its round 400 ms
	// after the step, and the model had fired the round's
	// last_man_standing timer while vqsim had not).
	slack := sess.ready
	// near: a timer of some possible state is due, give or take Margin
	// and slack, within [a, b]; whether vqsim fired it before or after
	// the step, the round's messages or the read depends on real time,
	// not on the scenario.
	races := func(d, a, b time.Duration) bool { return d+slack >= a-Margin && d <= b+Margin }
	nearAny := func(ds []time.Duration, a, b time.Duration) bool {
		return slices.ContainsFunc(ds, func(d time.Duration) bool { return races(d, a, b) })
	}
	near := func(a, b time.Duration) bool { return nearAny(ex.Deadlines(), a, b) }
	// waitPast sleeps until every timer of ds that could fire within
	// [a, b] (near) has surely fired in vqsim too (its deadline, plus
	// slack for vqsim arming it later than the model, plus Margin), and
	// reports whether there was one. Waiting a race out keeps the
	// scenario compared where it used to stop (Ambiguous); the scenario
	// is the same commands, only later.
	waitPast := func(ds []time.Duration, a, b time.Duration) bool {
		var until time.Duration
		for _, d := range ds {
			if races(d, a, b) {
				until = max(until, d+slack+Margin+5*time.Millisecond)
			}
		}
		if until == 0 {
			return false
		}
		time.Sleep(until - sess.Since())
		return true
	}
	for i, st := range sc.All() {
		// a timer that could fire while the step's round runs (about
		// slack long) fires first
		for w := 0; w < MaxTimerWaits; w++ {
			now := sess.Since()
			if !waitPast(ex.Deadlines(), now, now+slack) {
				break
			}
		}
		sent := sess.Since()
		if err := ex.Advance(sent); err != nil {
			return fail("step %d %q: model: %v", i, st.Command(), err)
		}
		rounds, err := ex.Plan(st)
		if err != nil {
			return fail("step %d %q: model: %v", i, st.Command(), err)
		}
		// vqsim runs the step first: exploring takes CPU time, and
		// vqsim's timers run on real time.
		nodes, synced, show, got, err := observe(sess, st, ex.Want())
		if err != nil {
			return fail("step %d %q: vqsim: %v", i, st.Command(), err)
		}
		// every node reported the step's membership, so it sent its
		// round's NODEINFO before: the controller read and relayed it
		relays, err := sess.Relayed()
		if err != nil {
			return fail("step %d %q: vqsim: %v", i, st.Command(), err)
		}
		if tamper.relays != nil {
			tamper.relays(i, relays)
		}
		if tamper.views != nil {
			tamper.views(i, nodes)
		}
		if len(rounds) > 0 {
			slack = max(slack, synced-sent)
		}
		// A timer due while a round runs (from sent until every node
		// reported the new membership, i.e. had sent its NODEINFO, at
		// synced) may fire between its messages; one due at the step's
		// boundaries, before or after them. (A wait step runs no round.)
		if (len(rounds) > 0 && near(sent, synced)) || near(sent, sent) {
			res.Ambiguous = true
			return res, nil
		}
		reread := func() error {
			show = sess.Since()
			if nodes, err = sess.Show(); err != nil {
				return err
			}
			if tamper.views != nil {
				tamper.views(i, nodes)
			}
			late, err := sess.Relayed()
			if err != nil {
				return err
			}
			relays = append(relays, late...)
			got = sess.Since()
			return nil
		}
		waits := 0
		for try := 0; ; {
			// a timer due at the read, before or after it: read again
			// once it surely fired
			if near(show, got) {
				if waits++; waits > MaxTimerWaits {
					res.Ambiguous = true
					return res, nil
				}
				waitPast(ex.Deadlines(), show, got)
				if err := reread(); err != nil {
					return fail("step %d %q: vqsim: %v", i, st.Command(), err)
				}
				continue
			}
			before := ex.save()
			ok, possible, err := ex.ExploreRelayed(rounds, nodes, relays, show)
			if err == errUnbounded {
				res.Unbounded = true
				return res, nil
			}
			if errors.Is(err, ErrRelays) {
				return fail("after step %d %q (t=%v): vqsim shows %s; %v", i, st.Command(), show.Round(time.Millisecond), showViews(nodes), err)
			}
			if err != nil {
				return fail("step %d %q: model: %v", i, st.Command(), err)
			}
			// a timer the round armed: the model armed it at sent,
			// vqsim up to synced. Due before every round message
			// landed, it raced them.
			if nearAny(ex.Armed, sent, synced) {
				res.Ambiguous = true
				return res, nil
			}
			// due at the read (armed in the round, or a timer of a
			// state kept): explore again from before the round, read
			// once it surely fired
			if nearAny(ex.Armed, show, got) || (ok && near(show, got)) {
				armed := append(slices.Clone(ex.Armed), ex.Deadlines()...)
				ex.restore(before)
				if waits++; waits > MaxTimerWaits {
					res.Ambiguous = true
					return res, nil
				}
				waitPast(armed, show, got)
				if err := reread(); err != nil {
					return fail("step %d %q: vqsim: %v", i, st.Command(), err)
				}
				continue
			}
			res.Branched = ex.Branched
			if ok {
				break
			}
			if try == SettleRetries {
				return fail("after step %d %q (t=%v, read %d times over %v): vqsim shows %s; no ordering of vqsim's sync rounds gives that (%s)",
					i, st.Command(), show.Round(time.Millisecond), try+1, (show - synced).Round(time.Millisecond), showViews(nodes), possible)
			}
			try++
			time.Sleep(SettleRetry)
			if err := reread(); err != nil {
				return fail("step %d %q: vqsim: %v", i, st.Command(), err)
			}
		}
		res.Steps++
	}
	return res, nil
}

func showViews(nodes map[uint32]NodeView) string {
	var l []string
	for _, id := range slices.Sorted(maps.Keys(nodes)) {
		v := nodes[id]
		l = append(l, fmt.Sprintf("%d:%d q=%v nodes=%v (%s)", v.Part, id, v.Quorate, v.Members, recalcText(v.Recalc)))
	}
	return strings.Join(l, ", ")
}

func diffViews(vqsim, core map[uint32]NodeView) string {
	var d []string
	var ids []uint32
	for id := range core {
		ids = append(ids, id)
	}
	for id := range vqsim {
		if _, ok := core[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		v, okv := vqsim[id]
		c, okc := core[id]
		switch {
		case !okv:
			d = append(d, fmt.Sprintf("node %d: missing in vqsim output (core: %+v)", id, c))
		case !okc:
			d = append(d, fmt.Sprintf("node %d: up in vqsim (%+v), not in the model", id, v))
		case v.Part != c.Part || v.Quorate != c.Quorate || !slices.Equal(v.Members, c.Members) || !sameRecalc(v.Recalc, c.Recalc):
			d = append(d, fmt.Sprintf("node %d: vqsim part %d q=%v nodes=%v (%s), core part %d q=%v nodes=%v (%s)",
				id, v.Part, v.Quorate, v.Members, recalcText(v.Recalc), c.Part, c.Quorate, c.Members, recalcText(c.Recalc)))
		}
	}
	return strings.Join(d, "; ")
}

// observe runs st in vqsim and reads the settled state: it polls until
// every node reports the step's membership (vqsim answers a command before
// its nodes have synced), then until two reads Settle apart agree (the
// round's messages landed). synced is when the membership was seen;
// show..got bounds when the settled state was read.
func observe(s *Session, st Step, want map[uint32]NodeView) (nodes map[uint32]NodeView, synced, show, got time.Duration, err error) {
	if st.Kind == "wait" {
		time.Sleep(time.Duration(st.Ms) * time.Millisecond)
	} else {
		if err := s.Send(st.Command()); err != nil {
			return nil, 0, 0, 0, err
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		time.Sleep(20 * time.Millisecond)
		n, err := s.Show()
		if err != nil {
			return nil, 0, 0, 0, err
		}
		synced = s.Since()
		if sameMembers(n, want) || time.Now().After(deadline) {
			break
		}
	}
	var prev map[uint32]NodeView
	for try := 0; ; try++ {
		time.Sleep(Settle)
		show = s.Since()
		if nodes, err = s.Show(); err != nil {
			return nil, 0, 0, 0, err
		}
		if (prev != nil && diffViews(prev, nodes) == "") || try == 5 {
			return nodes, synced, show, s.Since(), nil
		}
		prev = nodes
	}
}

func sameMembers(vqsim, model map[uint32]NodeView) bool {
	if len(vqsim) != len(model) {
		return false
	}
	for id, m := range model {
		v, ok := vqsim[id]
		if !ok || v.Part != m.Part || !slices.Equal(v.Members, m.Members) {
			return false
		}
	}
	return true
}
