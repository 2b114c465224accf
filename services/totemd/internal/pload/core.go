// Package pload is corosync's profile-loading service (service 4) as a
// pure state machine: START and MCAST ring messages byte-compatible with
// corosync 3.1.7 (spec/addendum-317.md §6), the start rule on the
// pload.* cmap keys, the sending budget, and the count and timing of
// deliveries. Its host feeds it cmap changes, deliveries with the time
// they arrived, and asks it for the next message to send.
//
// totemd hosts it in its node stack (package stack), as corosync runs
// pload inside its own process: a separate daemon would put a bus hop on
// each side of every message, which is most of what the ring carries.
//
// Behaviour as corosync 3.1.7: a START delivered on a node that is not
// running one starts it sending Count MCASTs of Size bytes; every node
// counts every pload MCAST delivered, from any sender, and when the count
// reaches Count it reports "N Writes S bytes per write T seconds
// runtime, X TP/S, Y MB/S.". Since delivery is totally ordered, every
// node stops at the same message.
//
// Where needle differs, on purpose: corosync exits (status 99) after a
// run and can run only once per process; needle stops sending, reports
// the result (totemd writes it to runtime.pload.*) and may run again
// when pload.start is set anew. A START asking for 0 messages (corosync
// would send one and never finish) or for messages over MaxSize is
// refused with a warning rather than trusted.
package pload

import (
	"fmt"
	"math"

	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// Magic is the value of pload.start that starts a run.
const Magic = "i_totally_understand_pload_will_crash_my_cluster_and_kill_corosync_on_exit"

// Defaults and limits of the pload.* keys (corosync's pload_read_config).
const (
	DefaultCount uint32 = 1500000
	DefaultSize  uint32 = 300
	// MaxSize is corosync's MESSAGE_SIZE_MAX: larger sizes are capped.
	MaxSize uint32 = 1 << 20
)

// Settings is what the pload.* keys hold (absent keys take the defaults).
type Settings struct {
	Count, Size uint32
	Start       string
}

// Level of a log line, as logsys names them.
type Level uint8

// Log levels used by pload.
const (
	Debug Level = iota
	Notice
	Warning
)

// Log is a line the host should log.
type Log struct {
	Level Level
	Text  string
}

// Result is the end of a run on this node.
type Result struct {
	Writes    uint32 // MCASTs counted (= Count)
	Size      uint32 // bytes per write
	ElapsedNs int64  // first counted delivery to the last
	TPS, MBps float64
	Line      string // corosync's NOTICE text
	Run       uint64 // runs started on this node so far (this one included)
}

// Output is what one event asks of the host.
type Output struct {
	// Start is a START message to multicast, if any.
	Start []byte
	// Result is set when this node's run just ended.
	Result *Result
	Logs   []Log
}

type phase uint8

const (
	idle phase = iota
	running
	finished
)

// Core is one node's pload service.
type Core struct {
	phase               phase
	wanted, size        uint32
	sent, delivered     uint32
	firstNs             int64
	startSet            bool
	msg                 []byte // the MCAST every send reuses (never mutated)
	startsIgnored, runs uint64
}

// New returns an idle core.
func New() *Core { return &Core{} }

// SettingsFrom reads the pload.* keys through get (absent or mistyped
// keys take the defaults, as corosync's pload_read_config does).
func SettingsFrom(get func(key string) (value.Value, bool)) Settings {
	st := Settings{Count: DefaultCount, Size: DefaultSize}
	if v, ok := get("pload.count"); ok {
		if n, ok := v.AsUint(); ok {
			st.Count = uint32(n)
		}
	}
	if v, ok := get("pload.size"); ok {
		if n, ok := v.AsUint(); ok {
			st.Size = uint32(n)
		}
	}
	if v, ok := get(StartKey); ok {
		st.Start, _ = v.AsString()
	}
	return st
}

// StartKey is the key whose setting to Magic starts a run.
const StartKey = "pload.start"

// Configured is called after a change below pload.: a run starts (a START
// is multicast) when pload.start has just become Magic and this node is
// not running one. The host deletes pload.start once its START is queued for
// the ring, so a key left set never replays a run after a restart.
func (c *Core) Configured(s Settings) Output {
	var out Output
	was := c.startSet
	c.startSet = s.Start == Magic
	if s.Start != Magic || was {
		return out
	}
	size := s.Size
	if size > MaxSize {
		size = MaxSize
		out.Logs = append(out.Logs, Log{Warning, fmt.Sprintf("pload size limited to %d", size)})
	}
	if c.phase == running {
		out.Logs = append(out.Logs, Log{Warning, "pload is already running; pload.start ignored"})
		return out
	}
	out.Logs = append(out.Logs, Log{Warning, "Starting pload!"})
	out.Start = EncodeStart(Start{Count: s.Count, Size: size})
	return out
}

// Deliver takes one pload ring message delivered at nowNs (any monotonic
// nanosecond clock).
func (c *Core) Deliver(from uint32, msg []byte, swapped bool, nowNs int64) (Output, error) {
	fn, st, err := Decode(msg, swapped)
	if err != nil {
		return Output{}, fmt.Errorf("from node %d: %w", from, err)
	}
	if fn == FnStart {
		return c.start(from, st), nil
	}
	return c.count(nowNs), nil
}

func (c *Core) start(from uint32, st Start) Output {
	switch {
	case c.phase == running:
		c.startsIgnored++
		return Output{Logs: []Log{{Debug, fmt.Sprintf("pload START from node %d ignored: a run is in progress", from)}}}
	case st.Count == 0:
		return Output{Logs: []Log{{Warning, fmt.Sprintf("pload START from node %d refused: count 0", from)}}}
	case st.Size > MaxSize:
		return Output{Logs: []Log{{Warning, fmt.Sprintf("pload START from node %d refused: size %d over %d", from, st.Size, MaxSize)}}}
	}
	c.phase, c.wanted, c.size = running, st.Count, st.Size
	c.sent, c.delivered, c.firstNs = 0, 0, 0
	c.msg = EncodeMcast(st.Size)
	c.runs++
	return Output{Logs: []Log{{Debug, fmt.Sprintf("pload run: %d messages of %d bytes (START from node %d)", st.Count, st.Size, from)}}}
}

func (c *Core) count(nowNs int64) Output {
	if c.phase != running {
		return Output{}
	}
	if c.delivered == 0 {
		c.firstNs = nowNs
	}
	c.delivered++
	if c.delivered > c.wanted {
		panic(fmt.Sprintf("pload: counted %d of %d while running", c.delivered, c.wanted))
	}
	if c.delivered < c.wanted {
		return Output{}
	}
	c.phase = finished
	r := result(c.delivered, c.size, nowNs-c.firstNs)
	r.Run = c.runs
	return Output{Result: &r, Logs: []Log{{Notice, r.Line}}}
}

// NextSend returns the next MCAST to multicast, while this node's run
// still owes messages. The returned slice is shared between sends and
// must not be modified.
func (c *Core) NextSend() ([]byte, bool) {
	if c.phase != running || c.sent >= c.wanted {
		return nil, false
	}
	c.sent++
	return c.msg, true
}

// Unsend takes back the message NextSend last returned: the ring had no
// room for it.
func (c *Core) Unsend() {
	if c.sent == 0 {
		panic("pload: Unsend without a send")
	}
	c.sent--
}

// Running reports whether a run is in progress on this node.
func (c *Core) Running() bool { return c.phase == running }

// Progress is the run's counters (sent by this node, counted here).
func (c *Core) Progress() (sent, delivered, wanted uint32) { return c.sent, c.delivered, c.wanted }

// result computes corosync's figures with its arithmetic: TP/S in double,
// the MB/S numerator as a float product.
func result(writes, size uint32, elapsedNs int64) Result {
	secs := float64(elapsedNs) / 1e9
	tps := float64(float32(writes)) / secs
	mbps := float64(float32(writes)*float32(size)) / secs / (1024.0 * 1024.0)
	line := fmt.Sprintf("%5d Writes %d bytes per write %7.3f seconds runtime, %s TP/S, %s MB/S.",
		writes, size, secs, cfloat(tps), cfloat(mbps))
	return Result{Writes: writes, Size: size, ElapsedNs: elapsedNs, TPS: tps, MBps: mbps, Line: line}
}

// cfloat formats like C's "%9.3f", including its "inf" for a run of one
// message (no elapsed time).
func cfloat(x float64) string {
	if math.IsInf(x, 1) {
		return fmt.Sprintf("%9s", "inf")
	}
	if math.IsNaN(x) {
		return fmt.Sprintf("%9s", "-nan")
	}
	return fmt.Sprintf("%9.3f", x)
}
