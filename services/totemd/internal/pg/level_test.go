package pg

import "testing"

func TestQueueMax(t *testing.T) {
	if got := QueueMax(1500); got != 2974 {
		t.Fatalf("QueueMax(1500) = %d, want 2974", got)
	}
	// A largest message fits an empty queue at any supported MTU.
	for mtu := 2*McastHeaderSize + FrameHeaderSize + minPacketSize; mtu <= 9000; mtu += 97 {
		frames := MaxSendSize/(PacketSize(mtu)-2) + 2
		if frames > QueueMax(mtu) {
			t.Errorf("netmtu %d: a %d-byte message needs %d frames, queue holds %d", mtu, MaxSendSize, frames, QueueMax(mtu))
		}
	}
}

func TestNextLevel(t *testing.T) {
	const c = 1000
	steps := []struct {
		avail int
		want  Level
	}{
		{1000, LevelLow},     // 0 % used
		{650, LevelLow},      // 35 %: between bands, stays
		{550, LevelGood},     // 45 %
		{420, LevelGood},     // 58 %: stays
		{350, LevelHigh},     // 65 %
		{250, LevelCritical}, // 75 %
		{450, LevelCritical}, // 55 %: stays until a band is entered
		{560, LevelGood},     // 44 %
		{800, LevelLow},      // 20 %
	}
	l := LevelLow
	for i, s := range steps {
		l = NextLevel(l, s.avail, c)
		if l != s.want {
			t.Fatalf("step %d (avail %d): level %v, want %v", i, s.avail, l, s.want)
		}
	}
	if NextLevel(LevelLow, 0, 0) != LevelCritical {
		t.Fatal("zero capacity must be critical")
	}
}
