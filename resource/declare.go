package resource

import (
	"regexp"
	"strings"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/storage"
)

// Resource declares one resource type. The engine serves its plural
// endpoint (GET, HEAD, POST, DELETE) at ParentPath + "/" + Plural and its
// object endpoint (GET, HEAD, PUT, PATCH, DELETE) below it.
type Resource struct {
	// Name is the resource name used in URIs of events, errors, settings
	// ("record").
	Name string
	// Parent is the parent resource's name, "" for top-level resources.
	Parent string
	// Plural is the URL segment of the list ("records").
	Plural string
	// IDPattern is what ids must match; nil means the default
	// ^[a-zA-Z0-9][a-zA-Z0-9_-]*$.
	IDPattern *regexp.Regexp
	// NewID generates an id for POST without data.id; nil makes the id
	// mandatory.
	NewID func() string
	// Permissions are the resource's entries of the inheritance tree:
	// permission name to the (resource, permissions) pairs granting it.
	Permissions map[string]permissions.Grants
	// PluralMethods and ObjectMethods restrict the methods served; nil
	// means all.
	PluralMethods, ObjectMethods []string
	// Hidden root fields can be neither filtered, sorted nor selected
	// (400), e.g. a password hash the resource does not show.
	Hidden []string
	// Fields, when not nil, is a fixed schema: filters, sorts and _fields
	// on other root fields get 400.
	Fields []string
	// Layout is how backends shared with Kinto store the objects
	// (storage.UnderOwnID for Kinto's accounts); the zero value is the
	// generic layout.
	Layout storage.Layout

	// Guard, when set, runs first in every handler of the resource with
	// the action ("list", "read", "create", "update", "delete") and the
	// object id ("" for lists); an error answers the request.
	Guard func(r *Request, action, id string) error
	// Prepare, when set, runs before the write transaction of POST, PUT
	// and PATCH, outside any transaction, with the id written ("" for a
	// POST without one). It is the place for slow work a write needs
	// (hashing a password, sending an e-mail): a write transaction holds
	// the one writer of a bolt file, so nothing slow may run inside it.
	// It must authorize what it does itself, since the engine authorizes
	// inside the transaction; an error answers the request.
	Prepare func(r *Request, id string) error
	// CheckBody, when set, checks the body of a POST or PUT on rules that
	// need no stored state (data and data.password are required on an
	// account, as Kinto's schema says). Its error is reported where the
	// body's own are, after authorization and before parents and
	// preconditions (CORE-21); Prepare does not run after one.
	CheckBody func(r *Request, data storage.Object, hasData bool) *Error
	// PreWrite runs in the write transaction of POST and PUT before the
	// generic authorization, with whether the object exists; an error
	// answers the request (accounts use it to refuse other users' ids
	// with 400 rather than 403).
	PreWrite func(r *Request, tx storage.Tx, id string, exists bool) error
	// Validate checks and may rewrite data before it is stored on POST,
	// PUT and PATCH (old is nil on creation). It runs inside the write
	// transaction and returns an *Error for bad input.
	Validate func(w *Write) error
	// AfterWrite runs inside the transaction after the object and its ACL
	// are stored (group memberships use it).
	AfterWrite func(w *Write) error
	// AfterDelete runs inside the transaction after the object is deleted
	// and its children purged.
	AfterDelete func(r *Request, tx storage.Tx, uri string, old storage.Object) error
	// Owner returns the principal added to write after a write instead of
	// the caller (the accounts plugin uses it); "" adds nothing.
	Owner func(r *Request, obj storage.Object) string
	// ReadFilter, when set, may hide or rewrite objects before they are
	// returned (for example to drop a password hash).
	ReadFilter func(r *Request, obj storage.Object) storage.Object
	// ListAll, when set, may let a caller see and delete every object
	// of the list beyond what settings and ACLs allow (the accounts
	// plugin lets its administrators list every account, as Kinto does).
	ListAll func(r *Request, tx storage.Tx) (bool, error)
	// ListFilter, when set, narrows the ids of the objects whose ACLs let
	// a caller list them, for a caller whom neither settings nor ListAll
	// give the whole list (the accounts plugin keeps the caller's own
	// account: another account is not theirs whatever its ACL grants).
	ListFilter func(r *Request, ids []string) []string

	parent   *Resource
	idRegexp *regexp.Regexp
}

// Write is what validation and after-write hooks receive.
type Write struct {
	Request *Request
	Tx      storage.Tx
	// URI of the object, and its parent's.
	URI, ParentURI string
	ID             string
	// Old is the stored object before the write (nil on creation).
	Old storage.Object
	// Data is the object about to be stored (after the hook, stored).
	Data storage.Object
	// OldACL and ACL are the object's ACL before and after.
	OldACL, ACL storage.ACL
}

var defaultIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]*$`)

// MaxIDBytes bounds object ids: storage keys, index entries and
// notifications carry them, and none of those should grow without limit.
const MaxIDBytes = 255

// MaxPrincipalBytes bounds each principal of an ACL or group: they are
// stored as index keys.
const MaxPrincipalBytes = 1024

// ValidID tells whether id is one the API accepts for this resource (its
// pattern and the length cap): data brought from elsewhere (an import)
// is checked with it.
func (r *Resource) ValidID(id string) bool { return r.idOK(id) }

func (r *Resource) idOK(id string) bool {
	return len(id) <= MaxIDBytes && r.idRegexp.MatchString(id)
}

// ids of one request path, keyed by "<resource>_id".
type matchdict map[string]string

// chain returns the object node and its ancestors up to the root. An
// empty id gives an object node without URI ("any object of the list").
func (r *Resource) chain(m matchdict, id string) []permissions.Node {
	var buf [4]*Resource
	anc := buf[:0] // the ancestors, closest first
	for p := r.parent; p != nil; p = p.parent {
		anc = append(anc, p)
	}
	nodes := make([]permissions.Node, len(anc)+2)
	nodes[0].Resource = r.Name
	nodes[len(anc)+1].Resource = permissions.Root
	// The URIs are built from the top down, each from its parent's, so
	// that every prefix is built once (this runs for every request).
	uri := ""
	for i := len(anc) - 1; i >= 0; i-- {
		p := anc[i]
		uri += "/" + p.Plural + "/" + m[p.Name+"_id"]
		nodes[i+1] = permissions.Node{Resource: p.Name, URI: uri}
	}
	if id != "" {
		nodes[0].URI = uri + "/" + r.Plural + "/" + id
	}
	return nodes
}

// parentURI returns the URI of the parent object ("" at the top).
func (r *Resource) parentURI(m matchdict) string {
	if r.parent == nil {
		return ""
	}
	return r.parent.objectURI(m, m[r.parent.Name+"_id"])
}

func (r *Resource) objectURI(m matchdict, id string) string {
	return r.parentURI(m) + "/" + r.Plural + "/" + id
}

// listPrefix is the URI prefix of every object of the list.
func (r *Resource) listPrefix(m matchdict) string { return r.parentURI(m) + "/" + r.Plural + "/" }

func (r *Resource) ref(m matchdict) storage.Ref {
	return storage.Ref{Resource: r.Name, Parent: r.parentURI(m)}
}

// pluralPath is the echo route of the list, e.g.
// /buckets/:bucket_id/collections/:collection_id/records.
func (r *Resource) pluralPath() string {
	prefix := ""
	if r.parent != nil {
		prefix = r.parent.objectPath()
	}
	return prefix + "/" + r.Plural
}

func (r *Resource) objectPath() string { return r.pluralPath() + "/:" + r.Name + "_id" }

// ancestors returns the parents, closest first.
func (r *Resource) ancestors() []*Resource {
	var out []*Resource
	for p := r.parent; p != nil; p = p.parent {
		out = append(out, p)
	}
	return out
}

func methodAllowed(list []string, m string) bool {
	if list == nil {
		return true
	}
	for _, x := range list {
		if strings.EqualFold(x, m) {
			return true
		}
	}
	return false
}
