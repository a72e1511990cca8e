// Command nimbus runs and administers a Nimbus server.
//
//	nimbus [--ini FILE] [-q|-v] serve [--port N]
//	nimbus [--ini FILE] migrate [--dry-run]
//	nimbus [--ini FILE] init [--backend bolt|postgresql|memory] [--host HOST]
//	nimbus version
//
// The commands live in package cli, whose Main a custom binary calls with
// its own plugins (docs/plugins.md).
package main

import (
	"os"

	"github.com/nimbus-server/nimbus/cmd/nimbus/cli"
)

func main() { os.Exit(cli.Main()) }
