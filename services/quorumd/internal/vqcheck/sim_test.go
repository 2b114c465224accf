package vqcheck

import (
	"errors"
	"os"
	"strconv"
	"testing"
)

// TestHistories runs VQCHECK_SEEDS (default 3000) histories of 60 steps;
// VQCHECK_SEED=N replays one.
func TestHistories(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("VQCHECK_SEEDS"))
	if n <= 0 {
		n = 3000
	}
	first := uint64(1)
	if v, err := strconv.ParseUint(os.Getenv("VQCHECK_SEED"), 10, 64); err == nil {
		first, n = v, 1
	}
	ran, skipped, failed := 0, 0, 0
	var sb, wfa, lms, atb, dev, ho int
	for seed := first; seed < first+uint64(n); seed++ {
		sim := New(seed)
		err := sim.Run(60)
		sb += sim.Checked.SplitBrain
		wfa += sim.Checked.WFA
		lms += sim.Checked.LMS
		atb += sim.Checked.ATB
		dev += sim.Checked.DeviceCarried
		ho += sim.Handovers
		var skip errSkip
		switch {
		case errors.As(err, &skip):
			skipped++
		case err != nil:
			failed++
			if failed <= 3 {
				t.Error(err)
			}
		default:
			ran++
		}
	}
	t.Logf("%d histories, %d configurations corosync refuses skipped, %d failed; promises tested: split brain %d, wait_for_all %d, last_man_standing %d, auto_tie_breaker %d; partitions quorate through a device's votes %d; cores handed over %d",
		ran, skipped, failed, sb, wfa, lms, atb, dev, ho)
	if n >= 1000 && (sb == 0 || wfa == 0 || lms == 0 || atb == 0 || dev == 0 || ho == 0) {
		t.Errorf("a promise was never tested: the generator lost coverage")
	}
}
