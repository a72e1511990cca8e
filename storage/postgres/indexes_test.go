package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres"
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
		if err := declareOn(t, b, id, fields); err != nil {
			t.Fatal(err)
		}
	}
	indexed := func() []string { return indexedFields(t, sql) }
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

// declareOn writes collection id of bucket b declaring fields, then
// hands the declaration to the backend, as the kinto plugin does.
func declareOn(t *testing.T, b storage.Backend, id string, fields []string) error {
	t.Helper()
	update(t, b, func(tx storage.Tx) error {
		arr := []any{}
		for _, f := range fields {
			arr = append(arr, f)
		}
		_, err := tx.Replace(storage.Ref{Resource: "collection", Parent: "/buckets/b"}, storage.Object{"id": id, "indexes": arr})
		return err
	})
	return b.(storage.Indexer).DeclareIndexes(context.Background(), storage.Ref{Resource: "record", Parent: "/buckets/b/collections/" + id}, fields)
}

// indexedFields lists the top-level fields whose value indexes exist.
func indexedFields(t *testing.T, sql *pgx.Conn) []string {
	t.Helper()
	rows, err := sql.Query(context.Background(), `SELECT pg_get_indexdef(c.oid) FROM pg_class c WHERE c.relkind = 'i' AND c.relname LIKE 'nimbus\_field\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	field := regexp.MustCompile(`data -> '(\w+)'`)
	var out []string
	for _, d := range defs {
		if m := field.FindStringSubmatch(d); m != nil {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// TestIndexedFieldsBounded: the distinct declared fields that get
// indexes are bounded (every write of every list maintains them, and any
// user who may create a collection declares fields): a field past the
// bound gets none (storage.ErrIndexLimit) while the others are built,
// its queries still answer, and room left by fields no collection
// declares any more serves the next declaration.
func TestIndexedFieldsBounded(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t).NewDatabase(t)
	b, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 4, MaxIndexedFields: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	sql := connect(t, url)
	set := func(id string, fields ...string) error { return declareOn(t, b, id, fields) }
	indexed := func() []string { return indexedFields(t, sql) }
	for _, st := range []struct {
		what    string
		id      string
		fields  []string
		limited bool
		want    []string
	}{
		{"c1 declares three fields: two get indexes", "c1", []string{"a", "b", "c"}, true, []string{"a", "b"}},
		{"c1 replaces them: the old ones make room", "c1", []string{"c", "d"}, false, []string{"c", "d"}},
		{"c2 shares c and adds e: no room for e", "c2", []string{"c", "e"}, true, []string{"c", "d"}},
		{"c1 gives d up", "c1", nil, false, []string{"c"}},
		{"c2 declares again: e gets the room", "c2", []string{"c", "e"}, false, []string{"c", "e"}},
	} {
		err := set(st.id, st.fields...)
		if got := errors.Is(err, storage.ErrIndexLimit); got != st.limited || err != nil && !got {
			t.Fatalf("%s: error %v", st.what, err)
		}
		if got := indexed(); !slices.Equal(got, st.want) {
			t.Fatalf("%s: indexes on %v, want %v", st.what, got, st.want)
		}
	}
	// A field left without an index still answers (a scan).
	recs := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c1"}
	update(t, b, func(tx storage.Tx) error {
		for i := range 5 {
			if _, err := tx.Create(recs, storage.Object{"id": fmt.Sprint("r", i), "a": i % 2}); err != nil {
				return err
			}
		}
		return nil
	})
	got := view(t, b, func(tx storage.Tx) ([]storage.Object, error) {
		return tx.List(recs, storage.Query{Filters: []storage.Filter{{Field: "a", Op: storage.OpEq, Value: json.Number("1")}}})
	})
	if len(got) != 2 {
		t.Errorf("a=1 without an index: %v", got)
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

// TestIndexBuildsWaitForEachOther: an index another instance is building
// is invalid until its build ends; an instance declaring the same field
// meanwhile waits for that build (the index's lock) instead of dropping
// it as a leftover, and only an index still invalid once the lock is free
// is dropped and built again.
func TestIndexBuildsWaitForEachOther(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Start(t).NewDatabase(t)
	b := open(t, url)
	other := connect(t, url) // the instance building the index
	name := postgres.FieldIndexName("n")
	if _, err := other.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 7))`, "nimbus index "+name); err != nil {
		t.Fatal(err)
	}
	// What the other instance's build looks like from outside: an index
	// of that name, not valid yet.
	if _, err := other.Exec(ctx, `CREATE INDEX `+name+` ON objects ((data -> 'n'))`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `UPDATE pg_index SET indisvalid = false WHERE indexrelid = $1::regclass`, name); err != nil {
		t.Fatal(err)
	}
	valid := func() (bool, bool) {
		var v bool
		err := other.QueryRow(ctx, `SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = $1`, name).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return true, v
	}
	done := make(chan error, 1)
	go func() { done <- declareOn(t, b, "c", []string{"n"}) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the declaration did not wait for the build in progress: %v", err)
	default:
	}
	if exists, v := valid(); !exists || v {
		t.Fatalf("the build in progress was touched: exists %v, valid %v", exists, v)
	}
	// The other build ends without making it valid (interrupted): the
	// waiting instance then drops the leftover and builds the index.
	if _, err := other.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 7))`, "nimbus index "+name); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if exists, v := valid(); !exists || !v {
		t.Errorf("after the lock: exists %v, valid %v", exists, v)
	}
}
