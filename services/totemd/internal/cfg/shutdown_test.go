package cfg

import "testing"

// svc returns a service with connections 1..n registered.
func svc(t *testing.T, st StatusProvider, n int) *Service {
	t.Helper()
	s := New(st)
	for i := 1; i <= n; i++ {
		if err := s.Connect(ConnID(i)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func req(t *testing.T, s *Service, c ConnID, r Request) []Action {
	t.Helper()
	return must(t)(s.Request(c, r.Encode()))
}

var (
	trackStart = TrackStartRequest{}
	trackStop  = BareRequest{ReqTrackStop}
)

func TestShutdownNobodyTracking(t *testing.T) {
	s := svc(t, newFakeNode(), 2)
	expectTrace(t, "request", req(t, s, 1, TryShutdownRequest{ShutdownRequest}),
		"respond c1 id=9 success size=24",
		"mcast cfg.ShutdownExec{}")
	// Corosync keeps the granted request registered until its client leaves.
	expectTrace(t, "second request", req(t, s, 2, TryShutdownRequest{ShutdownRequest}),
		"respond c2 id=9 CS_ERR_EXIST size=24")
	expectTrace(t, "requester leaves", s.Disconnect(1))
	expectTrace(t, "third request", req(t, s, 2, TryShutdownRequest{ShutdownRequest}),
		"respond c2 id=9 success size=24",
		"mcast cfg.ShutdownExec{}")
}

func TestShutdownImmediateAsksNobody(t *testing.T) {
	s := svc(t, newFakeNode(), 2)
	req(t, s, 2, trackStart)
	expectTrace(t, "immediate", req(t, s, 1, TryShutdownRequest{ShutdownImmediate}),
		"mcast cfg.ShutdownExec{}",
		"respond c1 id=9 success size=24")
}

func TestShutdownVetoed(t *testing.T) {
	s := svc(t, newFakeNode(), 3)
	expectTrace(t, "track 2", req(t, s, 2, trackStart), "respond c2 id=2 success size=24")
	expectTrace(t, "track 3", req(t, s, 3, trackStart), "respond c3 id=2 success size=24")
	expectTrace(t, "request", req(t, s, 1, TryShutdownRequest{ShutdownRequest}),
		"timer start gen=1 5s",
		"event c3 testshutdown success flags=0",
		"event c2 testshutdown success flags=0")
	expectTrace(t, "3 says yes", req(t, s, 3, ReplyToShutdownRequest{1}),
		"respond c3 id=13 success size=24")
	expectTrace(t, "2 says no", req(t, s, 2, ReplyToShutdownRequest{0}),
		"timer stop gen=1",
		"respond c1 id=9 CS_ERR_BUSY size=24",
		"log debug shutdown decision is: (yes count: 1, no count: 1) flags=0",
		"respond c2 id=13 success size=24")
	expectTrace(t, "late vote", req(t, s, 2, ReplyToShutdownRequest{1}),
		"respond c2 id=13 CS_ERR_ACCESS size=24")
}

func TestShutdownRegardlessOverridesNo(t *testing.T) {
	s := svc(t, newFakeNode(), 2)
	req(t, s, 2, trackStart)
	expectTrace(t, "request", req(t, s, 1, TryShutdownRequest{ShutdownRegardless}),
		"timer start gen=1 5s",
		"event c2 testshutdown success flags=1")
	expectTrace(t, "no", req(t, s, 2, ReplyToShutdownRequest{0}),
		"timer stop gen=1",
		"respond c1 id=9 success size=24",
		"mcast cfg.ShutdownExec{}",
		"log debug shutdown decision is: (yes count: 0, no count: 1) flags=1",
		"respond c2 id=13 success size=24")
}

func TestShutdownSecondRequesterGetsExist(t *testing.T) {
	s := svc(t, newFakeNode(), 3)
	req(t, s, 3, trackStart)
	req(t, s, 1, TryShutdownRequest{ShutdownRequest})
	expectTrace(t, "second", req(t, s, 2, TryShutdownRequest{ShutdownRequest}),
		"respond c2 id=9 CS_ERR_EXIST size=24")
}

func TestShutdownTimeout(t *testing.T) {
	st := newFakeNode()
	st.timeoutMs, st.hasTO = 250, true
	s := svc(t, st, 3)
	req(t, s, 2, trackStart)
	req(t, s, 3, trackStart)
	// Connection 3 once requested a shutdown itself (granted? no: vetoed by 2).
	req(t, s, 3, TryShutdownRequest{ShutdownRequest})
	req(t, s, 2, ReplyToShutdownRequest{0})
	expectTrace(t, "request", req(t, s, 1, TryShutdownRequest{ShutdownRequest}),
		"timer start gen=2 250ms",
		"event c3 testshutdown success flags=0",
		"event c2 testshutdown success flags=0")
	expectTrace(t, "stale timer", s.TimerExpired(1))
	// Only the tracker that once requested gets the timeout event (3.1.7 quirk).
	expectTrace(t, "timeout", s.TimerExpired(2),
		"respond c1 id=9 CS_ERR_BUSY size=24",
		"log debug shutdown decision is: (yes count: 0, no count: 2) flags=0",
		"event c3 testshutdown CS_ERR_TIMEOUT flags=0")
	expectTrace(t, "after", s.TimerExpired(2))
}

func TestShutdownTimeoutRegardless(t *testing.T) {
	s := svc(t, newFakeNode(), 2)
	req(t, s, 2, trackStart)
	req(t, s, 1, TryShutdownRequest{ShutdownRegardless})
	expectTrace(t, "timeout", s.TimerExpired(1),
		"respond c1 id=9 success size=24",
		"mcast cfg.ShutdownExec{}",
		"log debug shutdown decision is: (yes count: 0, no count: 1) flags=1")
}

func TestShutdownLateTrackerIsAsked(t *testing.T) {
	s := svc(t, newFakeNode(), 3)
	req(t, s, 2, trackStart)
	req(t, s, 1, TryShutdownRequest{ShutdownRequest})
	expectTrace(t, "late tracker", req(t, s, 3, trackStart),
		"event c3 testshutdown success flags=0",
		"respond c3 id=2 success size=24")
	expectTrace(t, "idempotent", req(t, s, 3, trackStart), "respond c3 id=2 success size=24")
	req(t, s, 2, ReplyToShutdownRequest{1})
	expectTrace(t, "3 yes", req(t, s, 3, ReplyToShutdownRequest{1}),
		"timer stop gen=1",
		"respond c1 id=9 success size=24",
		"mcast cfg.ShutdownExec{}",
		"log debug shutdown decision is: (yes count: 2, no count: 0) flags=0",
		"respond c3 id=13 success size=24")
}

func TestShutdownTrackerLeavingCountsAsYes(t *testing.T) {
	for _, leave := range []string{"trackstop", "disconnect"} {
		t.Run(leave, func(t *testing.T) {
			s := svc(t, newFakeNode(), 3)
			req(t, s, 2, trackStart)
			req(t, s, 3, trackStart)
			req(t, s, 1, TryShutdownRequest{ShutdownRequest})
			// 2 first says no, then leaves: its no is taken back, it counts as yes.
			req(t, s, 2, ReplyToShutdownRequest{0})
			var acts []Action
			if leave == "trackstop" {
				acts = req(t, s, 2, trackStop)
			} else {
				acts = s.Disconnect(2)
			}
			want := []string{}
			if leave == "trackstop" {
				want = append(want, "respond c2 id=3 success size=24")
			}
			expectTrace(t, "2 leaves", acts, want...)
			expectTrace(t, "3 yes", req(t, s, 3, ReplyToShutdownRequest{1}),
				"timer stop gen=1",
				"respond c1 id=9 success size=24",
				"mcast cfg.ShutdownExec{}",
				"log debug shutdown decision is: (yes count: 2, no count: 0) flags=0",
				"respond c3 id=13 success size=24")
		})
	}
}

func TestShutdownRequesterLeavingCancels(t *testing.T) {
	s := svc(t, newFakeNode(), 2)
	req(t, s, 2, trackStart)
	req(t, s, 1, TryShutdownRequest{ShutdownRequest})
	expectTrace(t, "requester leaves", s.Disconnect(1), "timer stop gen=1")
	expectTrace(t, "vote now refused", req(t, s, 2, ReplyToShutdownRequest{1}),
		"respond c2 id=13 CS_ERR_ACCESS size=24")
	expectTrace(t, "timer ignored", s.TimerExpired(1))
}

func TestShutdownLastTrackerLeavingDecides(t *testing.T) {
	s := svc(t, newFakeNode(), 2)
	req(t, s, 2, trackStart)
	req(t, s, 1, TryShutdownRequest{ShutdownRequest})
	expectTrace(t, "tracker disconnects", s.Disconnect(2),
		"timer stop gen=1",
		"respond c1 id=9 success size=24",
		"mcast cfg.ShutdownExec{}",
		"log debug shutdown decision is: (yes count: 1, no count: 0) flags=0")
}

func TestShutdownRequesterTrackingIsNotAsked(t *testing.T) {
	s := svc(t, newFakeNode(), 2)
	req(t, s, 1, trackStart)
	req(t, s, 2, trackStart)
	expectTrace(t, "request from a tracker", req(t, s, 1, TryShutdownRequest{ShutdownRequest}),
		"timer start gen=1 5s",
		"event c2 testshutdown success flags=0")
	expectTrace(t, "2 yes", req(t, s, 2, ReplyToShutdownRequest{1}),
		"timer stop gen=1",
		"respond c1 id=9 success size=24",
		"mcast cfg.ShutdownExec{}",
		"log debug shutdown decision is: (yes count: 1, no count: 0) flags=0",
		"respond c2 id=13 success size=24")
}
