package syncengine

import "github.com/needle-cluster/needle/libs/corotypes/ring"

// Action is something the driver must do; events return them in order.
type Action interface{ syncAction() }

// RoundKind tells a service daemon which kind of round a callback belongs to.
type RoundKind uint8

const (
	// FullRound follows a ring change and covers every service of the
	// union of all members' SERVICE_BUILD lists (corosync's sync).
	FullRound RoundKind = iota
	// ServiceRound follows a service daemon attaching or detaching on some
	// node and covers that one service, among needle nodes only.
	ServiceRound
)

func (k RoundKind) String() string {
	if k == ServiceRound {
		return "service"
	}
	return "full"
}

// Multicast asks the driver to send Payload in totempg group "sync" with
// agreed order. Multicasts must be queued in the order they are returned,
// after anything the service daemons sent before their ServiceDone.
type Multicast struct{ Payload []byte }

// SyncStarted marks the start of "sync in progress": the driver turns IPC
// flow control on (requests get CS_ERR_TRY_AGAIN). Returned by the first
// ConfChange after a completed sync.
type SyncStarted struct{ Ring RingID }

// SyncComplete ends "sync in progress" after a full round: IPC flow control
// off, IPC connections allowed, and Totem's trans-ack (spec/sync.md §6).
// Per-service rounds never produce it.
type SyncComplete struct{ Ring RingID }

// InitService is sync_init for a local daemon. Round identifies the round in
// later callbacks and in ServiceDone. It comes after the configuration
// changes of the round (ServiceConfChg); in a full round that is once
// every member's SERVICE_BUILD arrived (see buildDone for how this
// differs from corosync).
//
// FullRound: Members are the ring members and Trans the transitional members
// that are also in Members (corosync's lists). ServiceRound: Members are the
// service's new service membership and Trans its previous service members
// that remain, so Trans\Members is empty and Members\Trans joined.
type InitService struct {
	Service ServiceID
	Round   uint64
	Kind    RoundKind
	Ring    RingID
	Trans   []uint32
	Members []uint32
}

// ProcessService is sync_process: the daemon sends its sync messages (group
// "a") and then reports ServiceDone(Service, Round).
type ProcessService struct {
	Service ServiceID
	Round   uint64
	Kind    RoundKind
}

// ActivateService is sync_activate: every participant finished the service.
// Members is the service membership after the round: ring members whose
// daemon for Service is attached (a non-needle member, one that sent no
// ServiceSet, counts as attached to every service).
type ActivateService struct {
	Service ServiceID
	Round   uint64
	Kind    RoundKind
	Members []uint32
}

// ConfChg is a configuration change as one service sees it (the shared
// libs/corotypes/ring type).
type ConfChg = ring.ConfChg

// ServiceConfChg is a configuration change for the local daemon of
// Service: its service membership (Members, Left, Joined) beside the ring's
// (RingMembers). See view.go for when they come.
type ServiceConfChg struct {
	Service ServiceID
	Conf    ConfChg
}

// HoldDeliveries asks the driver to hold group "a" deliveries for the
// service daemons, in order, until ReleaseDeliveries: the regular views of
// the new ring are not known yet.
type HoldDeliveries struct{}

// ReleaseDeliveries hands the held deliveries to the daemons, in order,
// after the regular views and the InitService actions just returned.
type ReleaseDeliveries struct{}

// AbortService is sync_abort: a ring change interrupted a round in which the
// daemon was initialised and not yet activated; drop partial state.
type AbortService struct {
	Service ServiceID
	Round   uint64
}

// NewRing asks the driver for a new ring of the same members now (srp's
// Reform): the local daemon of Service attached while the ring holds
// corosync members that run Service, and they send their sync state only
// in a full round. The full round of the new ring covers the attachment.
type NewRing struct{ Service ServiceID }

func (Multicast) syncAction()         {}
func (NewRing) syncAction()           {}
func (SyncStarted) syncAction()       {}
func (SyncComplete) syncAction()      {}
func (InitService) syncAction()       {}
func (ProcessService) syncAction()    {}
func (ActivateService) syncAction()   {}
func (AbortService) syncAction()      {}
func (ServiceConfChg) syncAction()    {}
func (HoldDeliveries) syncAction()    {}
func (ReleaseDeliveries) syncAction() {}
