// Package pg is totempg (spec/totem.md §8): the layer between the services
// and the SRP core that packs many small messages into one Totem frame,
// splits large ones across frames, and puts them back together on receipt.
//
// Like the SRP core it is a pure, deterministic value: no goroutines, clocks
// or sockets. It does not import srp; the driver wires the two with function
// values:
//
//   - Packer (sender): Send/SendRaw stage a message; frames go to srp through
//     Config.Mcast; Flush runs from srp's token-received hook so small
//     messages wait at most one rotation.
//   - Receiver: Receive takes each srp message delivery (nodeid, payload,
//     swapped) and hands whole messages, in order, to a DeliverFunc — usually
//     Groups.Deliver, which strips the group header (§8.1) and calls every
//     local instance that joined one of the message's groups. ConfChange
//     drops the assembly buffers of nodes that left.
//
// Wiring in totemd (one goroutine owns the srp node and both halves):
//
//	packer: Config{NetMTU: totem.netmtu, Mcast: node.Mcast at the event's
//	        time, Avail: node.Avail}; srp Config.OnTokenReceived = packer.Flush
//	deliveries from node.Ready(), in order:
//	        message → receiver.Receive(From, Payload, Swapped)
//	        Conf    → receiver.ConfChange(Conf.Left), then the services
//
// Everything this package emits is little-endian; everything it reads may
// come from a peer of either byte order (the swapped flag of the delivery).
package pg
