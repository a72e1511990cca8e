// Package plugins lists the plugins compiled into Nimbus and resolves the
// includes setting (Kinto's dotted names are aliases).
package plugins
