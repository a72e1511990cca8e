package resource

import (
	"crypto/rand"
	"fmt"
	"regexp"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// NewUUID4 returns a random lowercase UUID version 4.
func NewUUID4() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

const nameFirst = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
const nameRest = nameFirst + "_-"

// NewName returns an 8-character id: the first character alphanumeric, the
// others alphanumeric, "_" or "-" (Kinto's name generator).
func NewName() string {
	var b [8]byte
	rand.Read(b[:])
	out := make([]byte, 8)
	out[0] = nameFirst[int(b[0])%len(nameFirst)]
	for i := 1; i < 8; i++ {
		out[i] = nameRest[int(b[i])%len(nameRest)]
	}
	return string(out)
}

// applyGenerator sets a resource's id generator and accepted pattern from
// an <resource>_id_generator setting value (Kinto's dotted names accepted).
func applyGenerator(r *Resource, name string) error {
	switch name {
	case "name", "kinto.views.NameGenerator":
		r.NewID = NewName
		r.idRegexp = defaultIDPattern
	case "relaxed_uuid", "kinto.views.RelaxedUUID":
		r.NewID = NewUUID4
		r.idRegexp = defaultIDPattern
	case "uuid4", "kinto.core.storage.generators.UUID4":
		r.NewID = NewUUID4
		r.idRegexp = uuidPattern
	default:
		return fmt.Errorf("unknown generator %q (name, relaxed_uuid or uuid4)", name)
	}
	return nil
}
