package resource

import (
	"net/http"
	"sort"
	"strconv"

	"github.com/nimbus-server/nimbus/storage"
)

// ServeList answers GET or HEAD on a computed list with the querying rules
// of a fixed-schema endpoint (filters, _sort, _limit, _token, _fields,
// HEAD counts): plugins use it for lists that are not stored resources.
// The ETag is "0".
func (r *Request) ServeList(fields []string, defaultSort []storage.Sort, objects []storage.Object) error {
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
	sort.SliceStable(matched, func(i, j int) bool { return storage.Compare(matched[i], matched[j], full) < 0 })
	h := r.ResponseHeader()
	h.Set("ETag", `"0"`)
	r.Expose("Next-Page", "ETag", "Total-Objects", "Total-Records")
	if r.c.Request().Method == http.MethodHead {
		h.Set("Total-Objects", strconv.Itoa(len(matched)))
		h.Set("Total-Records", strconv.Itoa(len(matched)))
		h.Set("Content-Type", "application/json")
		return r.NoContent(http.StatusOK)
	}
	if len(matched) > lq.pageSize {
		matched = matched[:lq.pageSize]
		tok := a.encodeToken(matched[len(matched)-1], sorts, lq.pageSize, false, false)
		h.Set("Next-Page", a.nextPageURL(r, tok, lq.pageSize))
	}
	out := make([]storage.Object, len(matched))
	for i, o := range matched {
		out[i] = project(o, lq.fields)
	}
	return r.JSON(http.StatusOK, map[string]any{"data": out})
}
