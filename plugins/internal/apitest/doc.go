// Package apitest starts Nimbus servers on real listeners for HTTP tests
// and gives terse helpers to call them and check Kinto-format answers.
package apitest
