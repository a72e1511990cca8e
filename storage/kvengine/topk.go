package kvengine

import "github.com/nimbus-server/nimbus/storage"

// topK keeps the best objects seen so far in sort order: the first limit
// of them (all with no limit), and of those no more than a page of
// Query.MaxBytes holds (the first whose stored bytes reach it). Memory
// stays proportional to the limit, and to twice the byte bound and one
// object: sorting a list of large objects by a field held every one of
// them at once (24 readers of sixty 7 MB records took 13.7 GB).
type topK struct {
	// q gives the limit and the byte bound.
	q     storage.Query
	sorts []storage.Sort
	items []ranked
	bytes int
	// dropped tells that an object was left out for the byte bound: the
	// page has more after it.
	dropped bool
}

// ranked is a candidate, its stored size, and whether it was decoded in
// part (candidateDecoder).
type ranked struct {
	o       storage.Object
	size    int
	partial bool
}

func newTopK(q storage.Query, sorts []storage.Sort) *topK {
	return &topK{q: q, sorts: sorts}
}

func (k *topK) add(r ranked) {
	k.items = append(k.items, r)
	k.bytes += r.size
	if k.q.Limit > 0 && len(k.items) >= 2*k.q.Limit+64 || k.q.MaxBytes > 0 && k.bytes >= 2*k.q.MaxBytes {
		k.trim()
	}
}

func (k *topK) trim() {
	var dropped bool
	k.items, dropped = storage.TopPage(k.items, k.sorts, k.q, func(r ranked) storage.Object { return r.o }, func(r ranked) int { return r.size })
	k.dropped = k.dropped || dropped
	k.bytes = 0
	for _, r := range k.items {
		k.bytes += r.size
	}
}

// result returns the page's candidates in order, and whether objects
// after them were left out for the byte bound.
func (k *topK) result() ([]ranked, bool) {
	k.trim()
	return k.items, k.dropped
}
