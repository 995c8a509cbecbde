//go:build tools

// Package tools records the upstream command this module builds (`argocd` v2: one binary that dispatches
// on the base name of argv[0]), so that `go mod tidy` keeps its dependencies.
package tools

import (
	_ "github.com/argoproj/argo-cd/v2/cmd"
)
