package vqsimtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Margin is how close a model timer may come to a step's boundaries
// before the step's outcome depends on vqsim's real-time scheduling; such
// scenarios stop being compared at that step (counted as Ambiguous).
const Margin = 60 * time.Millisecond

// Result of one scenario.
type Result struct {
	Steps     int  // steps compared
	Ambiguous bool // stopped early on a timer too close to a boundary
	InitError string
	// Racy: vqsim's own partition members disagreed (see Check).
	Racy bool
	// Barrier and Async say which ordering models vqsim agreed with to
	// the end.
	Barrier, Async bool
}

// Check runs sc through vqsim and the model and returns the first
// disagreement as an error carrying the replayable script.
func Check(ctx context.Context, dir string, sc Scenario) (Result, error) {
	fail := func(format string, a ...any) (Result, error) {
		return Result{}, fmt.Errorf("seed %d: %s\nreplay (VQSIM_SEED=%d, or pipe the commands into `corosync-vqsim -c c.conf`):\n%s",
			sc.Seed, fmt.Sprintf(format, a...), sc.Seed, sc.Script())
	}
	model, merr := NewModel(sc, false)
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
		// give vqsim's nodes time to fail their init, then compare texts
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
	async, _ := NewModel(sc, true)
	rev, _ := NewModel(sc, true)
	rev.reverse = true
	// Both orderings run side by side; a step passes when vqsim agrees
	// with at least one model still alive, and a model that disagrees is
	// dropped (vqsim's own interleaving varies from run to run).
	models := []*Model{model, async, rev}
	if sc.Seed%2 == 0 {
		// even seeds: every core is handed over after every step
		for _, m := range models {
			if m != nil {
				m.handover = true
			}
		}
	}
	alive := []bool{true, true, true}
	var res Result
	near := func(a, b time.Duration) bool {
		for k, m := range models {
			if !alive[k] {
				continue
			}
			for _, d := range m.Deadlines() {
				if d >= a-Margin && d <= b+Margin {
					return true
				}
			}
		}
		return false
	}
	for i, st := range sc.Steps {
		sent := sess.Since()
		if near(sent, sent) {
			res.Ambiguous = true
			return res, nil
		}
		var diffs []string
		for k, m := range models {
			if !alive[k] {
				continue
			}
			if err := m.Advance(sent); err != nil {
				return fail("step %d %q: model: %v", i, st.Command(), err)
			}
			if err := m.Apply(st); err != nil {
				return fail("step %d %q: model: %v", i, st.Command(), err)
			}
		}
		nodes, show, got, err := observe(sess, st, model)
		if err != nil {
			return fail("step %d %q: vqsim: %v", i, st.Command(), err)
		}
		if near(show, got) {
			res.Ambiguous = true
			return res, nil
		}
		for k, m := range models {
			if !alive[k] {
				continue
			}
			if err := m.Advance(show); err != nil {
				return fail("step %d %q: model: %v", i, st.Command(), err)
			}
			if diff := diffViews(nodes, m.View()); diff != "" {
				alive[k] = false
				diffs = append(diffs, []string{"barrier", "async", "async-reversed"}[k]+" model: "+diff)
			}
		}
		if !alive[0] && !alive[1] && !alive[2] && splitDecision(nodes) {
			// Members of one partition decided differently: impossible
			// with corosync's sync barrier (same messages, same order,
			// same configuration), possible in vqsim whose nodes activate
			// before their peers' NODEINFO arrive, in whatever order its
			// timers fire. Not comparable from here on.
			res.Racy = true
			return res, nil
		}
		if !alive[0] && !alive[1] && !alive[2] {
			return fail("after step %d %q (t=%v): %s", i, st.Command(), show.Round(time.Millisecond), strings.Join(diffs, " | "))
		}
		res.Steps++
	}
	res.Barrier, res.Async = alive[0], alive[1] || alive[2]
	return res, nil
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
		case v.Part != c.Part || v.Quorate != c.Quorate || !slices.Equal(v.Members, c.Members):
			d = append(d, fmt.Sprintf("node %d: vqsim part %d q=%v nodes=%v, core part %d q=%v nodes=%v",
				id, v.Part, v.Quorate, v.Members, c.Part, c.Quorate, c.Members))
		}
	}
	return strings.Join(d, "; ")
}

// observe runs st in vqsim and reads the settled state: it polls until
// every node reports the membership the model formed (vqsim answers a
// command before its nodes have synced), then lets the round's messages
// land and reads again. show..got bounds when that state was read.
func observe(s *Session, st Step, model *Model) (nodes map[uint32]NodeView, show, got time.Duration, err error) {
	if st.Kind == "wait" {
		time.Sleep(time.Duration(st.Ms) * time.Millisecond)
	} else {
		if err := s.Send(st.Command()); err != nil {
			return nil, 0, 0, err
		}
	}
	want := model.View()
	deadline := time.Now().Add(3 * time.Second)
	for {
		time.Sleep(20 * time.Millisecond)
		n, err := s.Show()
		if err != nil {
			return nil, 0, 0, err
		}
		if sameMembers(n, want) || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(Settle)
	show = s.Since()
	nodes, err = s.Show()
	return nodes, show, s.Since(), err
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

// splitDecision reports whether two nodes vqsim shows with the same
// partition and view disagree on quorate.
func splitDecision(nodes map[uint32]NodeView) bool {
	seen := map[string]bool{}
	for _, v := range nodes {
		k := fmt.Sprint(v.Part, v.Members)
		if q, ok := seen[k]; ok && q != v.Quorate {
			return true
		}
		seen[k] = v.Quorate
	}
	return false
}
