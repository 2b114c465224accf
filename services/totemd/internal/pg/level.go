package pg

// QueueMax is corosync 3.x's new-message queue capacity in frames,
// MESSAGE_QUEUE_MAX = 4 MiB / adjusted netmtu (2974 at netmtu 1500). A
// message of MaxSendSize always fits in an empty queue of this size.
func QueueMax(netMTU int) int {
	adj := netMTU - 2*McastHeaderSize
	if adj <= 0 {
		return 0
	}
	return 4 << 20 / adj
}

// Level is the fill level of srp's queue that IPC flow control follows
// (corosync's TOTEM_Q_LEVEL_*): clients are throttled as it rises.
type Level uint8

// Levels from empty to nearly full.
const (
	LevelLow Level = iota
	LevelGood
	LevelHigh
	LevelCritical
)

func (l Level) String() string {
	switch l {
	case LevelLow:
		return "low"
	case LevelGood:
		return "good"
	case LevelHigh:
		return "high"
	case LevelCritical:
		return "critical"
	}
	return "level?"
}

// NextLevel applies corosync's hysteresis (check_q_level): from the
// previous level and the queue's free frames out of capacity it returns the
// new level. Bands between the thresholds keep the previous level, so the
// level does not flap.
func NextLevel(prev Level, avail, capacity int) Level {
	if capacity <= 0 {
		return LevelCritical
	}
	used := 100 - avail*100/capacity
	switch {
	case used >= 75:
		return LevelCritical
	case used < 30:
		return LevelLow
	case used > 40 && used < 50:
		return LevelGood
	case used > 60 && used < 70:
		return LevelHigh
	}
	return prev
}
