package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/plugins"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"golang.org/x/term"
)

// line is one object of an export: its list, the stored object (with id
// and last_modified; deleted for a tombstone) and its ACL.
type line struct {
	Resource    string         `json:"resource"`
	Parent      string         `json:"parent"`
	Data        storage.Object `json:"data"`
	Permissions storage.ACL    `json:"permissions,omitempty"`
	// prepared is the backend's form of the object (BulkPreparer).
	prepared any
}

// exportPage is how many objects one read transaction of an export takes.
const exportPage = 2000

// exportTo writes every object of the declared resources as JSON lines,
// parents before children, each list in ascending last_modified order
// (so that an import keeps the timestamps), with tombstones when asked.
// progress is called after each page with the number of objects written.
func exportTo(ctx context.Context, w io.Writer, app *resource.App, b storage.Backend, tombstones bool, progress func(int)) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	writeSecrets(bw, app.Settings)
	n := 0
	type list struct{ name, plural string }
	var lists []list
	for _, res := range app.Resources() {
		lists = append(lists, list{res.Name, res.Plural})
	}
	// Lists plugins keep beside the resources (stored files), without ACLs.
	for _, name := range app.StoredLists() {
		lists = append(lists, list{name: name})
	}
	for _, res := range lists {
		var refs []storage.Ref
		err := b.View(ctx, func(tx storage.Tx) error {
			l, ok := tx.(storage.Lister)
			if !ok {
				return errors.New("this backend cannot list its lists")
			}
			var err error
			refs, err = l.Lists(res.name)
			return err
		})
		if err != nil {
			return n, err
		}
		for _, ref := range refs {
			if err := exportList(ctx, bw, b, ref, res.plural, tombstones, &n, progress); err != nil {
				return n, err
			}
		}
	}
	writeTrailer(bw, n)
	return n, bw.Flush()
}

// exportList writes the objects of one list, page by page, with their
// ACLs unless plural is empty (a plugin's stored list).
func exportList(ctx context.Context, bw *bufio.Writer, b storage.Backend, ref storage.Ref, plural string, tombstones bool, n *int, progress func(int)) error {
	uri := func(id string) string { return ref.Parent + "/" + plural + "/" + id }
	var after storage.Object
	for {
		var page []storage.Object
		var acls map[string]storage.ACL
		err := b.View(ctx, func(tx storage.Tx) (err error) {
			page, err = tx.List(ref, storage.Query{Sort: []storage.Sort{{Field: "last_modified"}}, After: after,
				Limit: exportPage, IncludeDeleted: tombstones})
			if err != nil || len(page) == 0 || plural == "" {
				return err
			}
			uris := make([]string, len(page))
			for i, o := range page {
				uris[i] = uri(storage.ID(o))
			}
			acls, err = tx.GetACLs(uris)
			return err
		})
		if err != nil {
			return err
		}
		for _, o := range page {
			// The object keeps its key order (storage.AppendJSON).
			head, _ := json.Marshal(map[string]string{"resource": ref.Resource, "parent": ref.Parent})
			data, err := storage.AppendJSON(nil, o)
			if err != nil {
				return err
			}
			bw.Write(head[:len(head)-1])
			bw.WriteString(`,"data":`)
			bw.Write(data)
			if plural != "" {
				perms, _ := json.Marshal(acls[uri(storage.ID(o))])
				bw.WriteString(`,"permissions":`)
				bw.Write(perms)
			}
			bw.WriteString("}\n")
			*n++
		}
		if progress != nil {
			progress(*n)
		}
		if len(page) < exportPage {
			return nil
		}
		last := page[len(page)-1]
		after = storage.Object{"last_modified": last["last_modified"], "id": last["id"]}
	}
}

// importBatch is how many objects one write transaction of an import
// takes. Larger pages mean fewer commits and round trips; 5,000 objects
// of a few hundred bytes keep a page's memory to a few megabytes.
const importBatch = 5000

// importFrom reads JSON lines and writes each object, its timestamp and
// its ACL as they were. An object already there with the same timestamp
// is skipped, so an import can be run again (to resume, or to catch up).
// Group memberships are rebuilt from the groups' members, as the group
// resource does when it stores a group. Tombstones keep their timestamps.
func importFrom(ctx context.Context, r io.Reader, app *resource.App, b storage.Backend, progress func(importStats)) (importStats, error) {
	plurals := map[string]string{}
	for _, res := range app.Resources() {
		plurals[res.Name] = res.Plural
	}
	for _, name := range app.StoredLists() {
		plurals[name] = ""
	}
	var st importStats
	analyzeAt := importBatch
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	// write stores one page in one transaction.
	write := func(batch []line) error {
		var done importStats
		err := storage.BulkUpdate(ctx, b, func(tx storage.Tx) error {
			done = importStats{}
			// What the target holds of the batch's ids, one read per list
			// (an import that runs again skips what it wrote); a list
			// written in bulk is compared by the backend as it writes
			// (storage.BulkObject.SkipSame).
			have := map[storage.Ref]map[string]storage.Object{}
			ids := map[storage.Ref][]string{}
			for _, l := range batch {
				ref := storage.Ref{Resource: l.Resource, Parent: l.Parent}
				if !bulkList(tx, ref) {
					ids[ref] = append(ids[ref], storage.ID(l.Data))
				}
			}
			for ref, list := range ids {
				objs, err := tx.List(ref, storage.Query{IDs: list, IncludeDeleted: true})
				if err != nil {
					return err
				}
				have[ref] = make(map[string]storage.Object, len(objs))
				for _, o := range objs {
					have[ref][storage.ID(o)] = o
				}
			}
			// What to write, per list in the file's order.
			var order []storage.Ref
			pending := map[storage.Ref][]line{}
			for _, l := range batch {
				ref := storage.Ref{Resource: l.Resource, Parent: l.Parent}
				id := storage.ID(l.Data)
				old := have[ref][id]
				if old != nil && storage.LastModified(old) == storage.LastModified(l.Data) && storage.IsDeleted(old) == storage.IsDeleted(l.Data) {
					done.skipped++
					continue
				}
				if storage.IsDeleted(l.Data) && old != nil && !storage.IsDeleted(old) {
					done.skipped++ // a live object there: the target has moved on
					continue
				}
				if _, ok := plurals[l.Resource]; !ok {
					return fmt.Errorf("%s: no such resource on this server (is its plugin in includes?)", l.Resource)
				}
				if pending[ref] == nil {
					order = append(order, ref)
				}
				pending[ref] = append(pending[ref], l)
			}
			for _, ref := range order {
				if err := done.writeList(tx, ref, plurals[ref.Resource], pending[ref]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		st.add(done)
		if an, ok := b.(storage.Analyzer); ok && st.written+st.tombstones >= analyzeAt {
			// The planner must know the data grew: lookups by id of
			// the next batches then use the indexes.
			if err := an.Analyze(ctx); err != nil {
				return err
			}
			analyzeAt *= 4
		}
		if progress != nil {
			progress(st)
		}
		return nil
	}
	// Pages are written by one goroutine, in the file's order, while the
	// next page is parsed: the parsing's CPU time then overlaps the
	// database's. The first failure stops both.
	pages := make(chan []line, 1)
	failed := make(chan struct{})
	var werr error
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		for page := range pages {
			if err := write(page); err != nil {
				werr = err
				close(failed)
				for range pages {
				}
				return
			}
		}
	}()
	batch := make([]line, 0, importBatch)
	bp, _ := b.(storage.BulkPreparer)
	// flush hands the page over, prepared for the backend's bulk writes
	// (here, while the writer writes the previous page); it fails once
	// the writer has failed.
	flush := func() error {
		if len(batch) > 0 {
			if bp != nil {
				if err := prepare(bp, batch); err != nil {
					return err
				}
			}
			select {
			case pages <- batch:
				batch = make([]line, 0, importBatch)
			case <-failed:
			}
		}
		select {
		case <-failed:
			return werr
		default:
			return nil
		}
	}
	// wait closes the pages and waits for the writer, returning its error.
	wait := func() error {
		close(pages)
		<-wdone
		return werr
	}
	got, err := readPages(ctx, sc, app, b, &batch, flush)
	if err2 := wait(); err2 != nil {
		return st, err2
	}
	if err != nil {
		return st, err
	}
	objects, trailer := got.objects, got.trailer
	if an, ok := b.(storage.Analyzer); ok && st.written+st.tombstones > 0 {
		if err := an.Analyze(ctx); err != nil {
			return st, err
		}
	}
	if sy, ok := b.(storage.BulkSyncer); ok && st.written+st.tombstones > 0 {
		if err := sy.Sync(ctx); err != nil {
			return st, err
		}
	}
	switch {
	case trailer < 0:
		return st, fmt.Errorf("%w: the file ends without the export's trailer after %d objects", errCutExport, objects)
	case trailer != objects:
		return st, fmt.Errorf("%w: the export counts %d objects, the file holds %d", errCutExport, trailer, objects)
	}
	return st, nil
}

// readResult is what readPages saw of an export file.
type readResult struct {
	objects int
	// trailer is the object count the trailer gives, -1 without one.
	trailer int
}

// readPages parses an export file: secrets are imported as they come,
// objects are appended to *batch, and flush is called each time a page
// is full and once at the end.
func readPages(ctx context.Context, sc *bufio.Scanner, app *resource.App, b storage.Backend, batch *[]line, flush func() error) (readResult, error) {
	got := readResult{trailer: -1}
	n := 0
	for sc.Scan() {

		n++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		if got.trailer >= 0 {
			return got, fmt.Errorf("line %d: text after the export's trailer", n)
		}
		if e, ok := envelope([]byte(text)); ok {
			switch {
			case e.End != nil:
				got.trailer = e.End.Objects
			case got.objects > 0:
				return got, fmt.Errorf("line %d: a secret after the objects", n)
			default:
				if err := importSecret(ctx, app, b, e.Secret, e.Value); err != nil {
					return got, err
				}
			}
			continue
		}
		got.objects++
		l, err := parseLine([]byte(text))
		if err != nil {
			return got, fmt.Errorf("line %d: %w", n, err)
		}
		*batch = append(*batch, l)
		if len(*batch) == importBatch {
			if err := flush(); err != nil {
				return got, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return got, err
	}
	if err := flush(); err != nil {
		return got, err
	}
	return got, nil
}

// errCutExport is an export file that is not whole.
var errCutExport = errors.New("the export is cut or damaged")

// progressPrinter shows a count, a rate and, when the work's size is
// known, the time left, on a terminal, once a second at most; it stays
// quiet otherwise (-q, or stderr not a terminal).
type progressPrinter struct {
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
	// done and total, when total > 0, measure the progress (objects, or
	// bytes of the file read) for the time left.
	done  func() int64
	total int64
}

func newProgress(g globals, w io.Writer) *progressPrinter {
	f, ok := w.(*os.File)
	return &progressPrinter{w: w, on: !g.quiet && ok && term.IsTerminal(int(f.Fd())), start: time.Now()}
}

func (p *progressPrinter) show(what string, n int, force bool) {
	if !p.on || (!force && time.Since(p.last) < time.Second) {
		return
	}
	p.last = time.Now()
	elapsed := time.Since(p.start)
	rate := float64(n) / elapsed.Seconds()
	eta := ""
	if p.total > 0 && p.done != nil && !force {
		if d := p.done(); d > 0 && d < p.total {
			left := time.Duration(float64(elapsed) * float64(p.total-d) / float64(d))
			eta = fmt.Sprintf(", %s left", left.Round(time.Second))
		}
	}
	fmt.Fprintf(p.w, "\r%s %d objects, %.0f/s%s   ", what, n, rate, eta)
	if force {
		fmt.Fprintln(p.w)
	}
}

// openForTransfer opens the backend of the settings and builds the
// server's resources on it (an import needs their storage layouts).
func openForTransfer(g globals, stderr io.Writer) (*resource.App, storage.Backend, error) {
	s, err := config.Load(g.ini, g.explicit, os.Environ(), "")
	if err != nil {
		return nil, nil, err
	}
	if s.Path == "" {
		zeroDefaults(s)
	}
	backend, err := openBackend(s)
	if errors.Is(err, bolt.ErrLocked) {
		return nil, nil, fmt.Errorf("%w: stop the server first, or export from a copy (nimbus backup)", err)
	}
	if err != nil {
		return nil, nil, err
	}
	// The secrets in effect (an export carries them); none is generated.
	if err := resolveSecrets(context.Background(), s, backend, false, nil); err != nil {
		backend.Close()
		return nil, nil, err
	}
	app, err := plugins.NewApp(s, backend, slog.New(slog.DiscardHandler), g.extra)
	if err != nil {
		backend.Close()
		return nil, nil, err
	}
	return app, backend, nil
}

// exportCmd writes every object as JSON lines (to a file or stdout).
func exportCmd(g globals, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	out := fs.String("o", "", "file to write (default: standard output)")
	// Tombstones are exported by default: without them, a list's ETag
	// goes back to its last live object after an import, and an offline
	// client that synced before a deletion never learns of it.
	tomb := fs.Bool("tombstones", true, "export tombstones (the default; --tombstones=false leaves them out)")
	noTomb := fs.Bool("no-tombstones", false, "leave tombstones out (lists' ETags and _since answers then differ after an import)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *noTomb {
		*tomb = false
	}
	app, backend, err := openForTransfer(g, stderr)
	if err != nil {
		return err
	}
	defer backend.Close()
	w := stdout
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	pr := newProgress(g, stderr)
	if pr.on {
		var written atomic.Int64
		pr.total, pr.done = countObjects(app, backend, *tomb), written.Load
		n, err := exportTo(context.Background(), w, app, backend, *tomb, func(n int) { written.Store(int64(n)); pr.show("exported", n, false) })
		return finishExport(pr, stdout, *out, n, err)
	}
	n, err := exportTo(context.Background(), w, app, backend, *tomb, func(n int) { pr.show("exported", n, false) })
	return finishExport(pr, stdout, *out, n, err)
}

// finishExport prints the outcome of an export.
func finishExport(pr *progressPrinter, stdout io.Writer, out string, n int, err error) error {
	pr.show("exported", n, true)
	if err != nil {
		return err
	}
	if out != "" {
		fmt.Fprintf(stdout, "%d objects exported to %s\n", n, out)
	}
	return nil
}

// countObjects counts what an export will write (for the time left;
// lists keep their size, so it is quick on bolt).
func countObjects(app *resource.App, b storage.Backend, tombstones bool) int64 {
	var n int64
	b.View(context.Background(), func(tx storage.Tx) error {
		l, ok := tx.(storage.Lister)
		if !ok {
			return nil
		}
		for _, res := range app.Resources() {
			refs, _ := l.Lists(res.Name)
			for _, ref := range refs {
				c, _ := tx.Count(ref, nil, tombstones)
				n += int64(c)
			}
		}
		return nil
	})
	return n
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// importCmd reads JSON lines (a file or stdin) into the configured backend.
func importCmd(g globals, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	from := fs.String("from", "", "copy from a running Kinto or Nimbus (https://host/v1) instead of a file")
	cred := fs.String("auth", "", "user:password for --from (Basic)")
	overwrite := fs.Bool("overwrite", false, "with --from: also replace the target's own objects that have the source's ids (and write under them)")
	allowMissing := fs.Bool("allow-missing-permissions", false,
		"with --from: succeed even when the source did not show some objects' permissions (they are copied without)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from != "" {
		rm, err := newRemote(*from, *cred)
		if err != nil {
			return err
		}
		app, backend, err := openForTransfer(g, stderr)
		if err != nil {
			return err
		}
		defer backend.Close()
		pr := newProgress(g, stderr)
		st, err := fromHTTP(context.Background(), rm, app, backend, *overwrite, func(st importStats) { pr.show("copied", st.written+st.tombstones, false) })
		pr.show("copied", st.written+st.tombstones, true)
		if err != nil {
			return fmt.Errorf("%w (%d objects and %d tombstones were written; running the command again resumes)", err, st.written, st.tombstones)
		}
		fmt.Fprintf(stdout, "%d objects and %d tombstones copied from %s\n", st.written, st.tombstones, rm.base)
		if st.kept > 0 {
			fmt.Fprintf(stdout, "%d objects of this server with the source's ids were left alone, with what is under them (--overwrite replaces them)\n", st.kept)
		}
		if st.noPerms > 0 {
			msg := fmt.Sprintf("%d objects were copied without their permissions: the source shows them only to their writers, "+
				"or they have none (first: %s); run the command again with an account that writes them and they are filled in",
				st.noPerms, strings.Join(st.missing, ", "))
			if !*allowMissing {
				return fmt.Errorf("%s (--allow-missing-permissions accepts this)", msg)
			}
			fmt.Fprintln(stderr, "nimbus: warning: "+msg)
		}
		return nil
	}
	in := stdin
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	app, backend, err := openForTransfer(g, stderr)
	if err != nil {
		return err
	}
	defer backend.Close()
	pr := newProgress(g, stderr)
	if f, ok := in.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			cr := &countingReader{r: in}
			in, pr.total, pr.done = cr, fi.Size(), cr.n.Load
		}
	}
	// An import allocates much and keeps little (a page or two): the
	// collector may let the heap grow further between cycles, which
	// spares a large share of the run's CPU time.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	st, err := importFrom(context.Background(), in, app, backend, func(st importStats) { pr.show("imported", st.written+st.skipped, false) })
	pr.show("imported", st.written+st.skipped, true)
	if err != nil {
		if errors.Is(err, errSecretsDiffer) {
			return err
		}
		return fmt.Errorf("%w (%d objects and %d tombstones were written before it; running the command again, on a whole "+
			"file, resumes: what is there already is skipped)", err, st.written, st.tombstones)
	}
	fmt.Fprintf(stdout, "%d objects and %d tombstones written, %d already there\n", st.written, st.tombstones, st.skipped)
	return nil
}
