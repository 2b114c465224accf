package daemon

// TickWanted: the tick re-checks congestion, which only matters while the
// clients carry the flow-control flag; every change that closes it comes
// with a call of updateFlow, so an open cpgd needs no tick (and an idle
// one no wake-up every TickPeriod).
func (s *service) TickWanted() bool { return s.fc != fcOpen }
