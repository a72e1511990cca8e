package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestListsOfManyFilters: a list whose filters are more than the
// statement carries (the rest are checked in Go) answers exactly what
// every filter selects, in SQL's limit and count too; and a statement
// long enough to be shaped by its query is not kept prepared on the
// server, where its plan would stay in the backend's memory (2,000
// filters held 36 MB each, and each new set of field names one more).
func TestListsOfManyFilters(t *testing.T) {
	ctx := context.Background()
	b := open(t, pgtest.Start(t).NewDatabase(t))
	const n, fields = 30, 12
	update(t, b, func(tx storage.Tx) error {
		for i := range n {
			o := storage.Object{"id": fmt.Sprintf("r%02d", i), "deep": map[string]any{"a": map[string]any{"b": map[string]any{}}}}
			for f := range fields {
				v := "a"
				if f == fields-2 && i >= n-10 {
					v = "b" // the ten newest differ on a filter past those SQL carries
				}
				o[fmt.Sprintf("f%d", f)] = v
				o["deep"].(map[string]any)["a"].(map[string]any)["b"].(map[string]any)[fmt.Sprintf("n%d", f)] = i + f
			}
			if _, err := tx.Create(recs, o); err != nil {
				return err
			}
		}
		return nil
	})
	all := view(t, b, func(tx storage.Tx) ([]storage.Object, error) { return tx.List(recs, storage.Query{}) })
	want := func(filters []storage.Filter, limit int) []string {
		var ids []string
		for _, o := range all { // newest first, as the lists below
			if storage.Match(o, filters) && (limit == 0 || len(ids) < limit) {
				ids = append(ids, storage.ID(o))
			}
		}
		return ids
	}
	var equal, ranges []storage.Filter
	for f := range fields {
		equal = append(equal, storage.Filter{Field: fmt.Sprintf("f%d", f), Op: storage.OpEq, Value: "a"})
		// Dotted paths write long SQL: the statement is over what is
		// kept prepared.
		ranges = append(ranges, storage.Filter{Field: fmt.Sprintf("deep.a.b.n%d", f), Op: storage.OpGt, Value: int64(f + 5)})
	}
	for _, c := range []struct {
		name    string
		filters []storage.Filter
		limit   int
	}{
		{"equalities, limited", equal, 5},
		{"equalities", equal, 0},
		{"ranges on dotted paths, limited", ranges, 4},
		{"ranges on dotted paths", ranges, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			exp := want(c.filters, c.limit)
			if len(exp) == 0 {
				t.Fatal("the case selects nothing")
			}
			got := view(t, b, func(tx storage.Tx) ([]string, error) {
				objs, err := tx.List(recs, storage.Query{Filters: c.filters, Limit: c.limit})
				ids := []string{}
				for _, o := range objs {
					ids = append(ids, storage.ID(o))
				}
				return ids, err
			})
			if !slices.Equal(got, exp) {
				t.Errorf("list: got %v, want %v", got, exp)
			}
			count := view(t, b, func(tx storage.Tx) (int, error) { return tx.Count(recs, c.filters, false) })
			if total := len(want(c.filters, 0)); count != total {
				t.Errorf("count: got %d, want %d", count, total)
			}
		})
	}
	kept, err := b.PreparedStatements(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range kept {
		if len(s) > 4096 {
			t.Errorf("a statement of %d bytes is kept prepared: %.200s", len(s), s)
		}
	}
}
