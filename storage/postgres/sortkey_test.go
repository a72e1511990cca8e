package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestSortByKeyPastItsLimit: a page sorted by a field is read in the
// order of its coarse key with a limit, and read again without it when
// the rows kept by filters SQL cannot apply (like) are too few within it,
// or when equal keys go on past it. Pages and their next pages must be
// the scan's, with and without the field's indexes, both directions.
func TestSortByKeyPastItsLimit(t *testing.T) {
	b := open(t, pgtest.Start(t).NewDatabase(t))
	update(t, b, func(tx storage.Tx) error {
		for i := 0; i < 900; i++ {
			o := storage.Object{"id": fmt.Sprintf("r%03d", i), "tag": "common"}
			switch i % 3 {
			case 0:
				o["g"] = json.Number(fmt.Sprint(i % 4))
			case 1:
				o["g"] = []string{"b", "B", "a", "é"}[i%4]
			default:
				if i%10 == 2 {
					// Numbers float8 cannot hold (clamped in SQL) or tell apart.
					o["g"] = json.Number([]string{"1e400", "-1e400", "1e-400", "123456789012345678901234567890",
						"123456789012345678901234567891", "1.7976931348623157e308", "2.5e-308", "9007199254740993", "9007199254740992"}[i/10%9])
				}
			}
			if i%97 == 0 {
				o["tag"] = "rare"
			}
			if _, err := tx.Create(recs, o); err != nil {
				return err
			}
		}
		return nil
	})
	var all []storage.Object
	all = view(t, b, func(tx storage.Tx) ([]storage.Object, error) { return tx.List(recs, storage.Query{}) })
	model := func(q storage.Query) string {
		sorts := storage.FullSort(q.Sort)
		var out []storage.Object
		for _, o := range all {
			if storage.Match(o, q.Filters) && (q.After == nil || storage.Compare(o, q.After, sorts) > 0) {
				out = append(out, o)
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return storage.Compare(out[i], out[j], sorts) < 0 })
		if len(out) > q.Limit {
			out = out[:q.Limit]
		}
		return ids(out)
	}
	check := func(stage string) {
		for _, desc := range []bool{false, true} {
			for _, c := range []struct {
				filters []storage.Filter
				then    []storage.Sort
			}{
				{},
				{filters: []storage.Filter{{Field: "tag", Op: storage.OpLike, Value: "ra*"}}},
				// A second sort field: equal keys are not in storage's order
				// by date, the run of the page's last key is read whole.
				{then: []storage.Sort{{Field: "tag", Desc: true}}},
			} {
				sorts := append([]storage.Sort{{Field: "g", Desc: desc}}, c.then...)
				q := storage.Query{Sort: sorts, Limit: 4, Filters: c.filters}
				for page := 0; page < 4; page++ {
					got := view(t, b, func(tx storage.Tx) ([]storage.Object, error) { return tx.List(recs, q) })
					if want := model(q); ids(got) != want {
						t.Fatalf("%s, %+v, page %d:\n got %s\nwant %s", stage, q, page, ids(got), want)
					}
					if len(got) < q.Limit {
						break
					}
					q.After = got[len(got)-1]
				}
			}
		}
	}
	check("no index")
	if err := b.DeclareIndexes(context.Background(), recs, []string{"g"}); err != nil {
		t.Fatal(err)
	}
	check("indexed")
}

func ids(objs []storage.Object) string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = storage.ID(o)
	}
	return strings.Join(out, " ")
}
