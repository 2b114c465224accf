// Package sim is a deterministic simulator for the Totem core (package srp)
// and a checker of extended virtual synchrony over what the nodes deliver.
//
// One run is a function of (seed, ring size, fault profile) only: a single
// PCG stream drives a virtual-time event queue (frame arrivals, node timers
// from NextDeadline, application sends, scheduled faults). There are no
// goroutines and no wall clock, so any failing run replays exactly, with a
// trace of one line per event:
//
//	<virtual s.µs> <node> <state> <ring rep.seq> a=<my_aru>/<high_seq> <event>
//
// plus the core's own log lines ("nX log ...") when tracing.
//
// The virtual network is udpu: a multicast is one datagram per nodelist
// entry, the sender included. Each directed link can be cut (partitions,
// isolation, one-way cuts); all links share seeded loss, duplication and a
// delay of base plus jitter (which reorders). Every node spends rxService
// per received frame and holds at most rxBuffer frames, like a UDP socket
// buffer, which is what keeps join storms finite. Nodes crash and restart
// (a new srp.Node with the persisted ring seq plus one, as corosync 3.x
// does) or leave gracefully. Application payloads carry their id, length
// and an FNV-64a checksum, so the checker can tell corrupted, invented and
// duplicated messages apart.
//
// A run has a fault phase, then a heal: the network becomes whole and
// lossless and most crashed nodes restart. From then on the checker also
// demands liveness: all live nodes on one ring within 20 × (token +
// consensus), and every message sent on it delivered everywhere.
//
// Bounded formation is checked all along (formation.go): after a start or a
// clean stop on a stable network with every live node on one ring, the
// live nodes must be on one ring again within FormationBound (2 × (join +
// consensus)) without any node waiting out a token timeout. The "cold"
// profile starts every node within 150 ms and nothing else; "stop" adds
// clean stops and restarts on a quiet network. Result reports the cold
// start's formation time and the slowest formation after a clean change.
//
// RunWhole (whole.go) is the whole-node mode: it drives N node stacks
// (package stack: srp, pg, syncengine and the service bus's decisions)
// with simulated service daemons (daemon.go) that attach, multicast with
// TryAgain, take part in sync rounds, detach, crash and restart, and
// (cpg's) are stopped by SIGTERM with a handover (handover.go): the
// daemon parks, the bus holds the session's frames, and a successor
// process resumes the same session 0.1–2 s later and processes them, or,
// in one handover in eight, comes after the grace, when the session was
// already detached as if its daemon had died. The simulator checks what
// every daemon incarnation saw (svccheck.go; a handed-over session is one
// incarnation, its successors' included): the bus contract, one sequence
// of deliveries and sync outcomes per service view on every node, each
// sender's order, every round closed by the end, no node seen to leave a
// service more often than its daemon's sessions ended (a completed
// handover is no leave), and that no daemon restart changes the ring. Every stack runs the cfg service, which simulated cfgtool
// clients use (cfgclient.go: reloads, kills of absent nodes, log
// reopening, refused shutdown votes, and as the fault of some seeds a
// KILL_NODE or a granted shutdown); cfgcheck.go checks that cfg's ring
// messages come in one order on every node of a ring, that every client
// is answered as cfg promises, and that only the node asked to goes down.
//
// The Checker is independent of the simulator: it consumes accepted sends
// and deliveries (tests build histories by hand) and reports Violations.
package sim
