// Command vault is HashiCorp Vault's own entry point (github.com/hashicorp/vault/main.go),
// built from the Go module proxy for sluice's integration tests.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
