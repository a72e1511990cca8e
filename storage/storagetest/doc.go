// Package storagetest is the conformance suite every storage.Backend must
// pass. A backend's test file calls Run with a constructor of fresh, empty
// backends; each behaviour is a named subtest, so a failure says which
// contract was broken.
package storagetest
