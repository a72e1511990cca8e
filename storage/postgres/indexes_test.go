package postgres_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestFieldIndexesFollowDeclarations: a field's expression index exists
// while some live collection declares the field, whichever collection
// stops declaring it or is deleted first.
func TestFieldIndexesFollowDeclarations(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t).NewDatabase(t)
	b := open(t, url)
	sql := connect(t, url)
	colls := storage.Ref{Resource: "collection", Parent: "/buckets/b"}
	set := func(id string, fields ...string) {
		update(t, b, func(tx storage.Tx) error {
			arr := []any{}
			for _, f := range fields {
				arr = append(arr, f)
			}
			_, err := tx.Replace(colls, storage.Object{"id": id, "indexes": arr})
			return err
		})
		if err := b.DeclareIndexes(ctx, storage.Ref{Resource: "record", Parent: "/buckets/b/collections/" + id}, fields); err != nil {
			t.Fatal(err)
		}
	}
	field := regexp.MustCompile(`data -> '(\w+)'`)
	indexed := func() []string {
		rows, err := sql.Query(ctx, `SELECT pg_get_indexdef(c.oid) FROM pg_class c WHERE c.relkind = 'i' AND c.relname LIKE 'nimbus\_field\_%'`)
		if err != nil {
			t.Fatal(err)
		}
		defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range defs {
			if m := field.FindStringSubmatch(d); m != nil {
				out = append(out, m[1])
			}
		}
		slices.Sort(out)
		return out
	}
	steps := []struct {
		what string
		do   func()
		want []string
	}{
		{"c1 declares n", func() { set("c1", "n") }, []string{"n"}},
		{"c2 declares n and s", func() { set("c2", "n", "s") }, []string{"n", "s"}},
		{"c1 declares nothing: c2 still uses n", func() { set("c1") }, []string{"n", "s"}},
		{"c2 declares s only", func() { set("c2", "s") }, []string{"s"}},
		{"c2 is deleted", func() {
			update(t, b, func(tx storage.Tx) error { _, err := tx.Delete(colls, "c2", 0); return err })
			if err := b.DeclareIndexes(ctx, storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c2"}, nil); err != nil {
				t.Fatal(err)
			}
		}, nil},
	}
	for _, st := range steps {
		st.do()
		if got := indexed(); !slices.Equal(got, st.want) {
			t.Fatalf("%s: indexes on %v, want %v", st.what, got, st.want)
		}
	}
}

// TestDeepPathsLeaveOutWhatPostgreSQLCannotHold: the coarse-key index of
// a path several levels deep has a definition larger than PostgreSQL's
// catalog keeps; it is left out with an error naming it, and the other
// fields of the declaration still get their indexes (the build stopped
// at the first failure, leaving them all without).
func TestDeepPathsLeaveOutWhatPostgreSQLCannotHold(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t).NewDatabase(t)
	b := open(t, url)
	sql := connect(t, url)
	fields := []string{"a.b.c.d", "n"}
	update(t, b, func(tx storage.Tx) error {
		_, err := tx.Create(storage.Ref{Resource: "collection", Parent: "/buckets/b"}, storage.Object{"id": "c", "indexes": []any{"a.b.c.d", "n"}})
		return err
	})
	err := b.DeclareIndexes(ctx, storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}, fields)
	if !errors.Is(err, storage.ErrTooLargeForIndex) || !strings.Contains(err.Error(), `"a.b.c.d"`) {
		t.Fatalf("declaring a deep path: %v", err)
	}
	var n int
	if err := sql.QueryRow(ctx, `SELECT count(*) FROM pg_class c WHERE c.relkind = 'i' AND (c.relname LIKE 'nimbus\_field\_%' OR c.relname LIKE 'nimbus\_sort\_%') AND pg_get_indexdef(c.oid) LIKE '%data -> ''n''%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d indexes of n, want its field and sort indexes", n)
	}
}
