package vqsimtest

import "testing"

// TestGeneratorCoverage: the seeds TestAgainstVqsim runs by default draw
// every feature and every step kind vqsim can express, but its qdevice
// command (registering and polling is vqsim's real-time timer, not
// modelled: a quorum device is configured, never registered).
func TestGeneratorCoverage(t *testing.T) {
	seen := map[string]int{}
	for seed := uint64(1); seed <= 300; seed++ {
		sc := Generate(seed)
		f := sc.F
		for name, on := range map[string]bool{
			"two_node": f.TwoNode, "wait_for_all": f.WFA == 1, "wait_for_all 0": f.WFA == 0,
			"last_man_standing": f.LMS, "auto_tie_breaker": f.ATB, "atb lowest": f.ATB && f.ATBNode == "lowest",
			"atb highest": f.ATB && f.ATBNode == "highest", "atb list": f.ATB && f.ATBNode != "" && f.ATBNode != "lowest" && f.ATBNode != "highest",
			"allow_downscale": f.AllowDown, "expected_votes_tracking": f.EVTracking, "expected_votes": f.ExpectedVotes != 0,
			"quorum device": f.Qdevice, "quorum device votes": f.Qdevice && f.QdeviceVotes != 0,
			"quorum device votes absent": f.Qdevice && f.QdeviceVotes == 0,
			"quorum device alone":        f.Qdevice && !f.TwoNode && !f.LMS && !f.ATB && !f.AllowDown,
			"weighted votes": func() bool {
				for _, v := range f.Votes {
					if v > 1 {
						return true
					}
				}
				return false
			}(),
		} {
			if on {
				seen[name]++
			}
		}
		for _, st := range sc.Steps {
			seen["step "+st.Kind]++
		}
	}
	want := []string{"two_node", "wait_for_all", "wait_for_all 0", "last_man_standing", "auto_tie_breaker",
		"atb lowest", "atb highest", "atb list", "allow_downscale", "expected_votes_tracking", "expected_votes",
		"weighted votes", "quorum device", "quorum device votes", "quorum device votes absent", "quorum device alone",
		"step move", "step join", "step down", "step up", "step wait"}
	for _, k := range want {
		if seen[k] == 0 {
			t.Errorf("no scenario in seeds 1..300 has %s", k)
		}
	}
	t.Logf("%v", seen)
}
