// Package ipcproto is the local bus between totemd and the service daemons
// (cmapd, quorumd, cpgd): length-prefixed msgpack frames over a unix
// socket. A service attaches with its Corosync service id, multicasts
// through the ring, and receives one ordered stream of deliveries,
// configuration changes and sync steps; requests between local services
// are routed through totemd. This comment is the contract both sides keep.
//
// # Frames
//
// A frame is a 4-byte big-endian length (at most MaxFrame), then one
// msgpack-encoded Msg. Every decoder here checks lengths and kinds before
// use and returns an error naming what was wrong (decode.go bounds every
// declared length before anything is allocated); a peer that sends a bad
// frame is disconnected. Kind says which fields a message uses (see the
// Kind constants).
//
// Either side may write several frames with one write (Conn.SendBatch):
// the stream is the same as with one write per frame, so a reader cannot
// and need not tell. The hot kinds (multicasts, their acks, deliveries)
// are encoded and decoded by hand (fast.go), byte for byte as msgpack
// encodes them; anything else goes through msgpack.
//
// # Attach and detach
//
// The first frame of a connection is KindAttach{Service, Name}. totemd
// admits only root (peer credentials) and one daemon per service id; it
// answers KindAttached{NodeID, Ring, Members, RingMembers} or KindError
// and closes. Members is the service membership and RingMembers the ring's,
// as the daemons already attached were last told (see "Service
// membership"); the new daemon is not in Members until the configuration
// change of its own attach arrives. KindDetach, or closing the socket,
// detaches; either way the other nodes learn of it through the ring.
//
// # Keeping the libqb listeners across a restart
//
// corosync serves every libqb name from one process, so its clients never
// see a service missing while the engine runs. A needle service daemon can
// restart alone (an upgrade, a crash, systemctl restart), and a client that
// connects in that gap would get ECONNREFUSED, which libqb clients report
// as CS_ERR_LIBRARY: Pacemaker's CIB manager, respawned after losing CPG,
// then gives up for good (exit code 100) and takes Pacemaker down on that
// node. So totemd keeps a copy of each daemon's listening sockets: while a
// daemon restarts, the sockets stay bound, connecting clients wait in the
// listen backlog, and the restarted daemon accepts them.
//
// A keeper connection is a second connection of a daemon, beside its
// attach, that starts with KindKeep{Names} (the libqb names it serves)
// instead of KindAttach. totemd answers KindKept{Names} with the sockets it
// holds for those names attached as SCM_RIGHTS descriptors (Names[i] is
// the name of the i-th; a name may come twice, for its abstract and its
// filesystem socket); the daemon serves on those and binds the others
// afresh, then sends KindKeep{Names} once more with the sockets it bound
// attached, for totemd to hold. From then on nothing is sent: the
// connection stays open while the daemon lives. When it closes, totemd
// goes on holding the sockets for a grace period (totemd's bus package
// says how long), hands them to the next keeper connection that names
// them, and closes them when the grace ends without one (the waiting
// clients then fail as they would have at once). A name held for a keeper
// connection that is still open is refused with KindError: a second daemon
// for a service never shares its clients. Each side waits for the other's
// frame before sending, so descriptors always come with a frame read by
// Conn.RecvFiles.
//
// # Handing a daemon over to its successor
//
// A daemon that restarts on purpose (SIGTERM: an upgrade, systemctl
// restart) can hand its clients and its state to the next daemon of its
// service, so that neither its libqb clients nor the other nodes notice:
// no client is disconnected, no configuration change or service round
// happens, and nothing delivered in between is lost. corosync never
// restarts one service alone, so its clients (Pacemaker's daemons, which
// exit when they lose CPG) were never written to survive it.
//
//   - The daemon stops reading its clients' requests and waits until it
//     is quiet (no sync round running, every multicast accepted and
//     delivered: the service says so). Then it sends KindPark. totemd
//     answers KindParked as the last frame it writes to this connection:
//     from then on it holds the daemon's frames (deliveries, configuration
//     changes, sync steps) in the daemon's queue, in order. The daemon
//     processes every frame up to KindParked.
//   - If that left it busy (a round started meanwhile), it sends
//     KindUnpark: totemd writes again, the held frames first, and the
//     daemon may try again later.
//   - Otherwise it sends its state as KindHandover frames, each with a
//     chunk of Payload and at most MaxKept descriptors (its clients'
//     sockets), then KindHandoverEnd{ID: the number of chunks}, and closes
//     the connection. The daemon sends nothing else after KindPark, so
//     totemd reads these frames with Conn.RecvFiles.
//     A handover carries at most MaxHandoverBytes of state and
//     MaxHandoverFiles descriptors.
//   - totemd keeps the session attached, its frames held, for the keeper's
//     grace period (totemd's bus package). The next daemon of the service
//     begins its connection with KindResume{Service, Name} instead of
//     KindAttach; totemd answers with the same KindHandover frames and
//     descriptors and the same KindHandoverEnd, then writes the held
//     frames: the successor goes on from where its predecessor stopped.
//     With nothing handed over, KindResume is a KindAttach (answered
//     KindAttached).
//   - When the grace ends first, or the held frames overflow the queue,
//     totemd closes the descriptors and detaches the session as if the
//     daemon had closed its connection: the clients see their connection
//     end, the other nodes a detach.
//
// # Service membership
//
// The service membership of a ring is its members whose daemon for that
// service is attached. A member that announced no needle service set (a
// real corosync node) counts as attached to every service: it runs them
// all in-process.
//
// A KindConfChg carries a ring.ConfChg: Members, Left and Joined are the
// service membership, RingMembers the ring's members (for a transitional
// change, the transitional members). Changes come in Transitional/Regular
// pairs, as in extended virtual synchrony, on two occasions:
//
//   - The ring changes. The Transitional change comes with Totem's
//     transitional configuration: the service members that stay, and those
//     that left. Messages of the old ring that Totem recovers follow it. The
//     Regular change comes once the new ring's service membership is agreed
//     (every member's service list has been delivered, right after Totem's
//     regular configuration), with the full round's KindSyncInit right
//     behind it; the service's deliveries of the new ring are held until
//     then, so none arrives before its ring's Regular change and sync_init
//     (corosync's order: confchg, sync_init, messages, sync_process).
//     A ring that ends before that gets its Regular change, with members
//     not heard from counted as attached, before its successor's
//     Transitional one.
//   - The service's membership changes inside a ring: its daemon attached
//     or detached on some needle node. Both changes carry the current ring
//     id: Transitional with the members that stay and Left, Regular with
//     the new membership and Joined. A service sync round follows.
//
// Every attached daemon that saw a ring's Regular change sees, from there
// on, the same sequence of changes and deliveries as every other such
// daemon, because totemd derives them from agreed-order input only. Left
// and Joined of a ring's first Regular change are relative to each node's
// transitional view and may differ between merging partitions (as in
// extended virtual synchrony); Members and RingMembers never do.
//
// # Log files
//
// KindReopenLogs asks a daemon to reopen its log files: totemd sends it
// to every attached daemon when corosync-cfgtool -L asks it to reopen its
// own, so one command serves the whole node as it does on corosync.
//
// # Deliveries and batching
//
// KindDeliver{From, Payload, Swapped} is one ring message of this service
// (its exec header names the service) in agreed order; Payload begins with
// Corosync's exec header; Swapped says the sender's byte order differs.
// When several deliveries are queued for a daemon, totemd may send them as
// one KindDeliverBatch{Batch} (at most 1024 deliveries and 1 MiB of
// payload), in the same order; nothing else is ever inside a batch, so its
// position in the stream is that of its first delivery. A daemon must take
// both forms: Msg.Deliveries returns the messages of either.
//
// # Sync rounds
//
// A round is corosync's sync for one or more services. Its steps reach the
// daemon in this order, one round at a time:
//
//   - KindSyncInit{ID, SyncKind, Ring, Trans, Members}: sync_init; reset
//     the round's state. It comes after the round's configuration changes
//     (so, unlike corosync 3.1.7, which calls sync_init as soon as it sent
//     its own service list, a full round's init waits for every member's
//     list; a ring change before that aborts nothing, as nothing was
//     initialised).
//     SyncFull follows a ring change: Members are the ring members and
//     Trans the members of the previous ring that are in the new one;
//     every ring member takes part, corosync nodes included. SyncService
//     follows an attach or detach of this service's daemon on some node:
//     Members is the new service membership and Trans the previous service
//     members that remain; only needle nodes take part (a corosync node
//     never sees the round and keeps counting as attached).
//   - KindSyncProcess{ID, SyncKind, Ring}: sync_process; multicast this
//     service's sync messages (KindMcast with Sync set), then answer
//     KindSyncDone{ID, Ring} once every one of them was accepted
//     (KindMcastAck OK). The round's barrier leaves after them, so every
//     participant delivers them before the round moves on.
//   - KindSyncActivate{ID, SyncKind, Ring, Members}: sync_activate; every
//     participant finished, commit. Members is the service membership
//     after the round.
//   - KindSyncAbort{ID}: sync_abort; a ring change interrupted the round,
//     drop its partial state. The next configuration changes follow.
//
// Each KindSyncInit is closed by exactly one KindSyncActivate or
// KindSyncAbort with its ID, unless the daemon detaches first. A service
// round that arrives while another round runs waits for it.
//
// A full round's participants on a node are fixed when the round starts,
// at Totem's regular configuration (before the service's Regular change,
// which waits for every member's service list). A daemon that attaches in
// between (typically the successor of one that just detached) is counted
// in that Regular change's membership through the node's agreed state, yet
// takes no part in that round: its first round is the service round of its
// own attach (the whole-node simulator's checker compares sync outcomes
// only between the daemons that took part).
//
// # Multicasts and pipelining
//
// KindMcast{ID, Payload, Sync} asks for an agreed-order multicast; totemd
// answers KindMcastAck{ID, Status, Sync} for each: OK (queued for the
// ring), TooBig (never fits, do not resend) or TryAgain (the ring's queue
// is full, or the service's sync round forbids it now, see below).
// Multicasts may be pipelined: a service may send many before the acks
// come back. A service's multicasts are two streams, told apart by Sync:
// its sync messages (Sync set) and its ordinary ones. Each stream has its
// own ids and keeps its own order: totemd answers each stream's
// multicasts in the order they came, and once one is refused with
// TryAgain, every later one of that stream is refused too, until the
// refused one is sent again under the same ID; so a service that resends
// from its first refused message on keeps each stream in the order it
// made it. The acks of the two streams may interleave in any way. Window
// is the sending side of one stream.
//
// # Multicasts during a sync round
//
// While a sync round of a service runs on this node — from the ring
// change (its Transitional change), or the local attach of its daemon, or
// the configuration changes of a service round, until that service's
// KindSyncActivate on this node — totemd accepts from it only sync
// messages: those it sends while processing (after KindSyncProcess,
// before its KindSyncDone), marked Sync. Every ordinary multicast is
// refused with TryAgain, and ordinary multicasts that totemd held
// unacknowledged (waiting for room in the ring's queue) when the round
// began are refused then; they are accepted again, in order, once the
// service was activated. So a service's ordinary messages are never
// delivered inside its own sync round, as in corosync 3.1.7, where IPC
// requests that need the ring get CS_ERR_TRY_AGAIN during sync and only
// sync messages travel; unlike 3.1.7, which drops with a warning an
// exec multicast that races with the round (addendum §3.5), nothing is
// ever dropped: the refused messages come again after activation. Sync
// messages may thus go ahead of ordinary ones the service queued earlier
// but totemd had not accepted yet.
//
// An ordinary multicast totemd accepted (acked OK) before the ring
// changed is in Totem's queue. If the old ring sequenced it, extended
// virtual synchrony delivers it in the old configuration or, recovered,
// after the Transitional change, before the Regular one; either way
// before the service's round. One accepted but not yet sequenced when
// the ring broke (still in srp's new-message queue or totempg's packing
// buffer) is sent in the new ring: totemd runs without corosync's
// trans-ack gate, so it may then be delivered inside the round (see
// services/totemd/internal/stack's doc of mcast for this remaining
// window).
//
// # Requests between services
//
// KindRequest{ID, Service, Payload} names the destination service;
// totemd forwards it with Service replaced by the sender's id, and routes
// the KindResponse{ID, Service, Status, Payload} back the same way. A
// request to a service not attached on this node is answered by totemd
// with CS_ERR_NOT_EXIST. The payloads are the services' own formats (for
// cmap: libs/corotypes/cmapreq).
//
// # Flow control
//
// totemd never blocks the ring on a daemon: each daemon has a bounded
// queue of frames, and a daemon that falls that far behind is disconnected
// (rather than silently missing a delivery); it reattaches, and the other
// nodes see it detach and attach again through service rounds.
package ipcproto
