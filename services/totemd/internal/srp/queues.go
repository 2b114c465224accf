package srp

// sortQueueSize is QUEUE_RTR_ITEMS_SIZE_MAX: the per-ring window of message
// slots indexed by seq. A power of two, so slot = seq mod size stays valid
// across uint32 wrap.
const sortQueueSize = 16384

// sortQueue holds received MCAST frames of one ring by seq, within the
// window [headSeq, headSeq+sortQueueSize). Frames are stored as received
// (raw, never re-encoded) so they can be retransmitted verbatim.
type sortQueue struct {
	slots   [][]byte
	miss    []uint32
	headSeq uint32
}

func newSortQueue() *sortQueue {
	return &sortQueue{slots: make([][]byte, sortQueueSize), miss: make([]uint32, sortQueueSize)}
}

// reinit empties the queue and restarts its window at seq 0.
func (q *sortQueue) reinit() {
	clear(q.slots)
	clear(q.miss)
	q.headSeq = 0
}

// inRange is corosync's sq_in_range, rollover compare included.
func (q *sortQueue) inRange(seq uint32) bool {
	if q.headSeq > 0x80000000 {
		s, h := seq-0x10000, q.headSeq-0x10000
		return !(s < h) && !(s >= h+sortQueueSize)
	}
	return !(seq < q.headSeq) && !(seq >= q.headSeq+sortQueueSize)
}

func (q *sortQueue) get(seq uint32) []byte {
	if !q.inRange(seq) {
		return nil
	}
	return q.slots[seq%sortQueueSize]
}

func (q *sortQueue) inuse(seq uint32) bool { return q.get(seq) != nil }

// add stores a frame; the caller has checked inRange.
func (q *sortQueue) add(seq uint32, frame []byte) {
	i := seq % sortQueueSize
	q.slots[i] = frame
	q.miss[i] = 0
}

// missCount increments and returns how often seq was found missing.
func (q *sortQueue) missCount(seq uint32) uint32 {
	i := seq % sortQueueSize
	q.miss[i]++
	return q.miss[i]
}

// release frees every slot up to and including seq and moves the window.
func (q *sortQueue) release(seq uint32) {
	if seqLT(seq, q.headSeq) {
		return
	}
	n := seq + 1 - q.headSeq
	if n >= sortQueueSize {
		clear(q.slots)
		clear(q.miss)
	} else {
		for s := q.headSeq; s != seq+1; s++ {
			i := s % sortQueueSize
			q.slots[i] = nil
			q.miss[i] = 0
		}
	}
	q.headSeq = seq + 1
}

// fifo is a bounded FIFO of frames (corosync's cs_queue).
type fifo struct {
	items      [][]byte
	head, used int
}

func newFIFO(size int) *fifo { return &fifo{items: make([][]byte, size)} }

// full follows cs_queue: one slot always stays unused.
func (f *fifo) full() bool  { return f.used == len(f.items)-1 }
func (f *fifo) empty() bool { return f.used == 0 }
func (f *fifo) len() int    { return f.used }

// avail follows cs_queue_avail (size − used − 2), never negative.
func (f *fifo) avail() int { return max(0, len(f.items)-f.used-2) }

func (f *fifo) push(b []byte) bool {
	if f.full() {
		return false
	}
	f.items[(f.head+f.used)%len(f.items)] = b
	f.used++
	return true
}

func (f *fifo) pop() []byte {
	if f.used == 0 {
		return nil
	}
	b := f.items[f.head]
	f.items[f.head] = nil
	f.head = (f.head + 1) % len(f.items)
	f.used--
	return b
}

func (f *fifo) reset() {
	clear(f.items)
	f.head, f.used = 0, 0
}
