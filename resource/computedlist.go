package resource

import (
	"container/heap"
	"net/http"
	"strconv"

	"github.com/nimbus-server/nimbus/storage"
)

// ServeList answers GET or HEAD on a computed list with the querying rules
// of a fixed-schema endpoint (filters, _sort, _limit, _token, _fields,
// HEAD counts): plugins use it for lists that are not stored resources.
// The ETag is "0".
func (r *Request) ServeList(fields []string, defaultSort []storage.Sort, objects []storage.Object) error {
	return r.ServeListConfirmed(fields, defaultSort, objects, nil)
}

// confirmChunk is how many objects ServeListConfirmed hands confirm at
// once, at least.
const confirmChunk = 100

// ServeListConfirmed is ServeList for objects that each need a costly
// check before they are listed (/permissions: is the object still
// there?). confirm receives objects that pass the request's filters and
// its page token, in the answer's order, a slice at a time, and returns
// those to keep. Only as many are confirmed as the answer needs: a page
// and one more (to tell whether a next page exists), or every one for
// HEAD's counts. A nil confirm keeps them all.
func (r *Request) ServeListConfirmed(fields []string, defaultSort []storage.Sort, objects []storage.Object, confirm func([]storage.Object) ([]storage.Object, error)) error {
	a := r.app
	pseudo := &Resource{Name: "list", Fields: fields}
	lq, err := a.parseList(r, pseudo, false)
	if err != nil {
		return err
	}
	sorts := lq.q.Sort
	if len(sorts) == 0 {
		sorts = defaultSort
	}
	full := storage.FullSort(sorts)
	// Computed objects have no last_modified: filters on it (_since,
	// _before, gt_last_modified...) are checked, then ignored (PERM-12).
	filters := make([]storage.Filter, 0, len(lq.q.Filters))
	for _, f := range lq.q.Filters {
		if f.Field != "last_modified" {
			filters = append(filters, f)
		}
	}
	var matched []storage.Object
	for _, o := range objects {
		if !storage.Match(o, filters) {
			continue
		}
		if lq.q.After != nil && storage.Compare(o, lq.q.After, full) <= 0 {
			continue
		}
		matched = append(matched, o)
	}
	h := r.ResponseHeader()
	h.Set("ETag", `"0"`)
	r.Expose("Next-Page", "ETag", "Total-Objects", "Total-Records")
	if r.c.Request().Method == http.MethodHead {
		if confirm != nil {
			kept, err := confirm(matched)
			if err != nil {
				return err
			}
			matched = kept
		}
		h.Set("Total-Objects", strconv.Itoa(len(matched)))
		h.Set("Total-Records", strconv.Itoa(len(matched)))
		h.Set("Content-Type", "application/json")
		return r.NoContent(http.StatusOK)
	}
	matched, more, cerr := firstInOrder(matched, full, lq.pageSize, confirm)
	if cerr != nil {
		return cerr
	}
	if more {
		tok := a.encodeToken(matched[len(matched)-1], sorts, lq.pageSize, false, false)
		h.Set("Next-Page", a.nextPageURL(r, tok, lq.pageSize))
	}
	out := make([]storage.Object, len(matched))
	for i, o := range matched {
		out[i] = project(o, lq.fields)
	}
	return r.JSON(http.StatusOK, map[string]any{"data": out})
}

// firstInOrder returns the first n objects of objs in the order of full
// that confirm keeps (all when confirm is nil), and whether one more is
// kept after them. Only what it returns is put in order, through a heap:
// a page of ten out of half a million entries costs a pass over them, not
// a sort. objs is reordered.
func firstInOrder(objs []storage.Object, full []storage.Sort, n int, confirm func([]storage.Object) ([]storage.Object, error)) ([]storage.Object, bool, error) {
	h := &objectHeap{objs: objs, full: full}
	heap.Init(h)
	var kept []storage.Object
	for h.Len() > 0 && len(kept) <= n {
		want := n + 1 - len(kept)
		if confirm != nil {
			want = max(want, confirmChunk)
		}
		part := make([]storage.Object, 0, min(want, h.Len()))
		for len(part) < cap(part) {
			part = append(part, heap.Pop(h).(storage.Object))
		}
		if confirm != nil {
			var err error
			if part, err = confirm(part); err != nil {
				return nil, false, err
			}
		}
		kept = append(kept, part...)
	}
	return kept[:min(n, len(kept))], len(kept) > n, nil
}

// objectHeap orders objects by a full sort (container/heap).
type objectHeap struct {
	objs []storage.Object
	full []storage.Sort
}

func (h *objectHeap) Len() int { return len(h.objs) }
func (h *objectHeap) Less(i, j int) bool {
	return storage.Compare(h.objs[i], h.objs[j], h.full) < 0
}
func (h *objectHeap) Swap(i, j int) { h.objs[i], h.objs[j] = h.objs[j], h.objs[i] }
func (h *objectHeap) Push(x any)    { h.objs = append(h.objs, x.(storage.Object)) }
func (h *objectHeap) Pop() any {
	last := h.objs[len(h.objs)-1]
	h.objs = h.objs[:len(h.objs)-1]
	return last
}
