// Package cpg is the pure core of cpgd: corosync 3.1.7's closed process
// groups (exec/cpg.c, spec/cpg.md corrected by spec/addendum-317.md §3) for
// one node, as a deterministic state machine.
//
// The core owns no goroutine, socket or clock. The adapter (cpgd's svchost
// Service) feeds it events and carries out what Ready returns:
//
//   - ring input: ConfChg, Deliver (cpg ring messages in agreed order),
//     SyncInit / SyncProcess / SyncActivate / SyncAbort;
//   - client input, keyed by a ConnID the adapter chooses: Connect, Join,
//     Leave, Mcast, PartialMcast, MembershipGet, LocalGet, IterationInit /
//     IterationNext / IterationFinalize, Finalize, Disconnect. Requests that
//     corosync answers return their reply's data and status directly;
//   - output (Ready): ring multicasts, encoded, to hand to Host.Mcast in
//     order, and per-connection events (Deliver, PartialDeliver, ConfChg,
//     TotemConfChg) to encode for the client;
//   - bus input: Detached and Requeue when the bus to totemd goes and
//     comes back (the core and its clients survive it);
//   - handover (snapshot.go): a cpgd restarting on purpose waits until
//     Quiet, hands Snapshot's bytes to its successor, which goes on with
//     Restore's core.
//
// Flow control is the adapter's: it answers CS_ERR_TRY_AGAIN from
// Host.Backlog and InSync where corosync would (addendum §5). The core never
// drops a multicast it accepted: everything it wants on the ring while a
// sync round runs (from ConfChg or SyncInit to SyncActivate) is held and
// released, in order, right after the activation's events (addendum §3.5:
// 3.1.7 drops such messages with a log line).
//
// What the core needs from the ring: agreed order, extended virtual
// synchrony, and none of its non-sync messages (PROCJOIN, PROCLEAVE,
// MCAST, PARTIAL_MCAST) delivered inside a sync round, as corosync's
// trans-ack gate ensures. If totemd let a message the core sent before a
// configuration change into the round that follows (it reached totemd
// after the change), every node would still end with the same process
// list, but a partition could deliver messages before any view change, so
// virtual synchrony would not hold (cpgcheck's TestSeedsBusRace).
//
// Where needle deliberately differs from 3.1.7 (each also noted where it
// is implemented):
//   - a sync abort in any phase discards the stored JOINLISTs (addendum
//     §3.1; 3.1.7 keeps them when the abort hits the barrier phase and
//     leaves a ghost member). Config.Keep317AbortBug restores 3.1.7's
//     behaviour for the checker's tests only;
//   - per-group confchgs of one sync step are ordered by strcmp of the name
//     up to its first NUL like 3.1.7's skiplist (addendum §3.2), but two
//     groups equal up to their first NUL are not merged: each gets its own
//     confchg (3.1.7 merges them and the second group's members never hear
//     of the change);
//   - a connection's own LEAVE resets it to UNJOINED (2.0.0 behaviour,
//     spec/cpg.md §4.3; 3.1.7's reset loop never runs);
//   - a connection joined to the zero-length name leaves it with
//     PROCLEAVE(PROCDOWN) on disconnect (addendum §3.4: 3.1.7 skips it and
//     the entry stays until its node leaves);
//   - LEAVE uses the connection's own group and pid, not the request's;
//   - a PROCLEAVE for a process not in the list emits no confchg (3.1.7
//     emits one listing a process that was never a member);
//   - JOINLIST handling is robust to cpg messages delivered inside a sync
//     round (possible in needle when a multicast reaches totemd just after
//     its configuration change): each sender's PROCJOIN/PROCLEAVE delivered
//     in the round is applied to its stored JOINLIST, whether it came
//     before or after it, and the activation checks the node's own entries
//     against its own JOINLIST too, so every member ends the round with the
//     same process list. A sender's DOWNLIST (always its first sync message)
//     starts its stored JOINLIST afresh, so a stale JOINLIST of an aborted
//     round cannot stand for it, and more processes than one message holds
//     go in several JOINLISTs;
//   - a connection may not join a group while a PROCJOIN/PROCLEAVE of the
//     same group and pid from this node is in flight (CS_ERR_TRY_AGAIN), nor
//     while a finalized connection still holds that group and pid
//     (CS_ERR_EXIST): 3.1.7 lets a second connection of the same pid pick
//     up the first one's join and leave;
//   - Detached/Requeue keep the core (and its clients) across a loss of the
//     bus to totemd: failed multicasts are sent again after the next round, and
//     own PROCJOIN/PROCLEAVE the ring took meanwhile count in the next
//     JOINLIST;
//   - fragmented messages (see partial in deliver.go): consistent fragment
//     sequences only; members that join before the last fragment get the
//     earlier ones replayed after their join confchg; a sync round cuts a
//     message in progress for everyone alike;
//   - a join that would give a group more than MaxGroupMembers processes is
//     refused with CS_ERR_NO_RESOURCES (spec/cpg.md §11).
//
// Invariants are asserted: a broken one panics (a bug, not bad input); bad
// ring input is rejected with an error from Deliver.
package cpg
