package sim

import (
	"fmt"
	"time"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// Kind classifies a broken invariant.
type Kind string

// The invariants of extended virtual synchrony the checker enforces, plus the
// simulator's own liveness and core-error checks.
const (
	KindCorrupt      Kind = "corrupt"           // payload bytes, length, sender or flags not as sent
	KindInvented     Kind = "invented"          // a message nobody's Mcast accepted
	KindDuplicate    Kind = "duplicate"         // delivered twice by one incarnation
	KindOrder        Kind = "order"             // common messages of a ring in different orders
	KindAgreement    Kind = "agreement"         // one message delivered in two different rings
	KindSynchrony    Kind = "virtual-synchrony" // same two consecutive rings, different message sets
	KindMembership   Kind = "membership"        // disagreement on a ring's members or rep
	KindTransitional Kind = "transitional"      // transitional configuration not old ∩ new
	KindConfSequence Kind = "conf-sequence"     // configurations out of their trans → regular pattern
	KindSelfDelivery Kind = "self-delivery"     // a node missed its own message
	KindLiveness     Kind = "liveness"          // no single ring, or messages not delivered, after healing
	KindFormation    Kind = "formation"         // a clean start or stop on a stable network not followed by one ring within FormationBound, or by a token loss
	KindCore         Kind = "core-error"        // the core refused its own frames or a valid send
	KindInvariant    Kind = "invariant"         // the core found its own state broken (srp's invariants) and left
)

// Violation is one broken invariant, with where and when it was seen.
type Violation struct {
	Kind   Kind
	At     srp.Time // virtual time; for end-of-run checks the end of the run
	Node   srp.NodeID
	Detail string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s at %s on n%d: %s", v.Kind, fmtTime(v.At), v.Node, v.Detail)
}

// fmtTime prints a virtual time as seconds with microseconds.
func fmtTime(t srp.Time) string {
	return fmt.Sprintf("%d.%06d", t/time.Second, (t%time.Second)/time.Microsecond)
}

// fmtRing prints a ring id the way corosync 3.x logs it.
func fmtRing(r srp.RingID) string {
	return fmt.Sprintf("%x.%x", uint32(r.Rep), r.Seq)
}
