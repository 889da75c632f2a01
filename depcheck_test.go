package jobartifacts_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// allowedDependency reports whether the root package may depend on pkg
// (directly or not) besides the standard library: whoever embeds the handler
// gets exactly gorilla/mux and klauspost/compress, and this module's own
// internal packages.
func allowedDependency(pkg string) bool {
	const module = "github.com/ciartifacts/jobartifacts"
	switch {
	case pkg == module, strings.HasPrefix(pkg, module+"/internal/"):
		return true
	case pkg == "github.com/gorilla/mux":
		return true
	case pkg == "github.com/klauspost/compress", strings.HasPrefix(pkg, "github.com/klauspost/compress/"):
		return true
	}
	return false
}

// TestDependencies pins the root package's (non-test) dependencies, as go
// list -deps reports them: a new one fails here until it is added above on
// purpose.
func TestDependencies(t *testing.T) {
	// go test puts its own toolchain's bin first in PATH for the tests.
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	var stderr []byte
	if exitErr := (*exec.ExitError)(nil); errors.As(err, &exitErr) {
		stderr = exitErr.Stderr
	}
	require.NoError(t, err, "go list: %s", stderr)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/gorilla/mux", "go list must have listed the dependencies")
	for _, pkg := range deps {
		if !allowedDependency(pkg) {
			t.Errorf("the root package depends on %s: only the standard library, gorilla/mux and klauspost/compress are allowed", pkg)
		}
	}
}
