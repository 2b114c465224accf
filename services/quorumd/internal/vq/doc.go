// Package vq is votequorum (corosync service 5) as a pure deterministic
// state machine: the vote arithmetic, every feature rule of corosync 3.1.7's
// exec/votequorum.c (two_node, wait_for_all, last_man_standing with its
// window, auto_tie_breaker lowest/highest/list, allow_downscale,
// expected_votes_tracking, the quorum device's votes, master_wins and
// timeouts), its sync participation and the codec of its four ring
// messages (msg.go).
//
// A Core owns no goroutine, socket, file or clock. The daemon adapter feeds
// it events — SyncInit/SyncProcess/SyncActivate/SyncAbort, Deliver (ring
// messages of service 5 in agreed order), Advance (virtual time), the local
// requests (SetExpected, SetVotes, the qdevice calls, CancelWaitForAll,
// Leave) and Reload — and carries out the Actions each returns, in order:
// multicasts, quorum and node-list notifications, expected-votes events,
// cmap writes under runtime.votequorum., the ev_tracking barrier to persist,
// log lines with corosync's texts, and the deferred reply of a qdevice
// registration. Queries (Info, Nodes, Quorate, Members, Ring) read state.
//
// Time: the core keeps two timers (the last_man_standing window and the
// qdevice poll timeout) as deadlines on the virtual clock the driver passes
// to Advance; NextDeadline says when Advance must be called next. Every
// other input is taken to happen at the last time Advance was given.
//
// Handover (snapshot.go): a quorumd restarted on purpose hands the core
// to its successor. Quiet says when that can be (no sync round, none of
// our multicasts on their way, no qdevice registration pending), Snapshot
// encodes the whole state with the timers as time left, and Restore
// rebuilds it on the successor's clock; the restored core answers every
// input as the original would.
//
// Invariants are asserted: a broken one panics (the simulator and the tests
// rely on that), because it means the core itself is wrong, never its input.
// Bad input (short or inconsistent ring messages, unknown ids) is an error
// naming what was wrong, and leaves the state untouched.
//
// Where corosync 3.1.7 has a quirk that is observable by peers or clients
// it is kept (quorum is an 8-bit value; the node list's insertion order;
// NODEINFO(0) handling), and said so where it is implemented. The
// expected_votes_tracking file write that goes to a closed descriptor in
// 3.1.7 (addendum §1.4) is not imitated: the core emits PersistBarrier and
// the driver really writes it.
package vq
