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
//     drops the assembly buffers of nodes that left; DiscardPartial drops
//     every partial message at a Regular configuration change.
//
// Wiring in totemd (one goroutine owns the srp node and both halves):
//
//	packer: Config{NetMTU: totem.netmtu, Mcast: node.Mcast at the event's
//	        time, Avail: node.Avail}; srp Config.OnTokenReceived = packer.Flush
//	deliveries from node.Ready(), in order:
//	        message → receiver.Receive(From, Payload, Swapped)
//	        Conf    → receiver.ConfChange(Conf.Left), then the services;
//	                  for a Regular one first the re-pack and the discard
//	                  below
//
// # A message straddling a ring change
//
// srp sends at most max_messages frames per token visit, so the frames of
// a large message can straddle a ring change: its head is sequenced, and
// delivered, in the old ring, its tail is sent in the new one. corosync
// 3.1.7 keeps a sender's assembly buffer unless the sender left, so in the
// new ring the members from the sender's old partition, which hold the
// head, complete the message, and the others, which do not, drop the
// continuation: one message delivered by some members of a configuration
// and not by others, against virtual synchrony. needle does two things:
//
//   - every receiver drops every partial message at a Regular
//     configuration change (Receiver.DiscardPartial), so a continuation in
//     the new ring is dropped alike by every needle member;
//   - the sender, at its own Regular change and before that discard, finds
//     its own head in its Receiver (Receiver.Partial of its own id): the
//     message it was sending straddled the change. It takes back the
//     frames srp has not sequenced (srp's TakeUnsent), and Packer.Repack
//     packs again the straddling message whole (the head and its tail),
//     the messages queued behind it and the last one, partly staged, in
//     their order; the straddling message then starts afresh
//     (continuation 0) in the new ring. They were acknowledged when first
//     accepted, so none is refused: what srp cannot take waits in the
//     Packer's pending list.
//
// Between needle nodes the straddling message is then delivered once by
// every member of the new ring, in one place. What changes for a corosync
// 3.1.7 node in a mixed ring:
//
//   - a corosync receiver from the sender's old partition, which holds the
//     head, sees the message start again with continuation 0, not the
//     fragment it waits for, and enters its throw-away mode: it loses the
//     message, and throw-away also drops the other messages of the frames
//     it throws away (at least every frame up to and including the next
//     one whose fragmented field is 0 or 1). Before, it delivered the message (and the needle
//     members that did not hold the head dropped it); now the needle
//     members deliver it and it does not;
//   - a corosync receiver that did not hold the head, which dropped the
//     continuation before, now delivers the message, with the needle
//     members;
//   - a straddling message of a corosync sender is not sent again: its
//     continuation is dropped by every needle member, where before the
//     needle members from the sender's partition delivered it; corosync
//     members from that partition still deliver it.
//
// The re-pack acts only in that straddle case; without one the streams
// are what they were.
//
// Everything this package emits is little-endian; everything it reads may
// come from a peer of either byte order (the swapped flag of the delivery).
package pg
