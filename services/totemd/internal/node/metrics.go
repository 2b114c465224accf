package node

import (
	"context"
	"slices"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/svcid"
	"github.com/needle-cluster/needle/services/totemd/internal/bus"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/transport"
)

// Metrics is a snapshot of what totemd's metrics report, read on the node
// goroutine.
type Metrics struct {
	SRP       srp.Status
	Transport transport.Stats
	// QueueAvail is the free room in srp's new-message queue.
	QueueAvail int
	Services   []ServiceMetrics
}

// ServiceMetrics is one attached service daemon's bus queues.
type ServiceMetrics struct {
	Name string
	// ToService waits to be written to the daemon; Waiting are its
	// multicasts held for room in srp's queue.
	ToService, Waiting int
}

// Metrics reads the snapshot.
func (n *Node) Metrics(ctx context.Context) (Metrics, error) {
	var m Metrics
	err := n.Do(ctx, func() {
		m.SRP = n.st.Status()
		m.QueueAvail = n.st.Avail()
		for id, ses := range n.st.Services() {
			m.Services = append(m.Services, ServiceMetrics{Name: svcid.Name(int(id)),
				ToService: ses.(*bus.Service).Queued(), Waiting: n.st.Waiting(id)})
		}
		slices.SortFunc(m.Services, func(a, b ServiceMetrics) int { return strings.Compare(a.Name, b.Name) })
	})
	m.Transport = n.TransportStats()
	return m, err
}
