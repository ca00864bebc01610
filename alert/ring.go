package alert

// slots is how many slices a counting window is cut into: a count covers
// between (slots-1)/slots of the window and the whole window.
const slots = 12

// ring counts events in a sliding window of slots slices of width
// nanoseconds each, in constant memory. The zero value is not usable:
// newRing sets the width.
type ring struct {
	width int64
	slice [slots]int64  // which slice (time/width) each slot counts
	n     [slots]uint32 // events in that slice
}

func newRing(window int64) ring {
	w := window / slots
	if w < 1 {
		w = 1
	}
	return ring{width: w}
}

// add counts c events at time t (Unix nanoseconds). An event older than
// what its slot counts now is older than the window: it is not counted
// (rather than wiping the slot's recent counts).
func (r *ring) add(t int64, c uint32) {
	s := t / r.width
	i := s % slots
	if s < r.slice[i] {
		return
	}
	if r.slice[i] != s {
		r.slice[i], r.n[i] = s, 0
	}
	r.n[i] += c
}

// sum returns the events counted in the window that ends at now (Unix
// nanoseconds). Events counted after now are included (a clock that goes
// back a little does not lose them).
func (r *ring) sum(now int64) uint64 {
	oldest := now/r.width - slots + 1
	var total uint64
	for i := range slots {
		if r.slice[i] >= oldest {
			total += uint64(r.n[i])
		}
	}
	return total
}
