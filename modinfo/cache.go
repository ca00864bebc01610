package modinfo

// zipWeight estimates the bytes zd holds.
func zipWeight(zd *zipDetails) int64 {
	n := int64(256 + len(zd.err))
	if zd.readme != nil {
		n += int64(len(zd.readme.Name) + len(zd.readme.Text))
	}
	for _, l := range zd.licenses {
		n += int64(64 + len(l.File))
		for _, id := range l.IDs {
			n += int64(16 + len(id))
		}
	}
	return n
}

// marksWeight estimates the bytes mk holds.
func marksWeight(mk *Marks) int64 {
	n := int64(256 + len(mk.Path) + len(mk.Latest) + len(mk.Deprecated) + len(mk.Error))
	for _, r := range mk.Retractions {
		n += int64(64 + len(r.Low) + len(r.High) + len(r.Rationale))
	}
	return n
}
