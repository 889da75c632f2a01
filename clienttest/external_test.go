package clienttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExternalClients runs python-gitlab, gitbeaker and the curl lines of
// GitLab's docs against the example server (clients/run.sh), so that one
// `go test` covers every real client. Without those clients the test skips
// with one line naming .ci/test-all, which installs them and runs every
// suite; under CI=true a missing client fails it instead.
func TestExternalClients(t *testing.T) {
	clients, err := filepath.Abs(filepath.Join("..", "clients"))
	require.NoError(t, err)
	if missing := missingClients(clients); missing != "" {
		if inCI() {
			t.Fatalf("client suites cannot run, missing %s: CI must run .ci/test-all, which installs them", missing)
		}
		t.Skipf("real-client suites skipped (missing %s): run .ci/test-all to install and run every suite", missing)
	}
	cmd := exec.Command("bash", filepath.Join(clients, "run.sh"))
	out, err := cmd.CombinedOutput()
	t.Logf("clients/run.sh:\n%s", out)
	require.NoError(t, err, "clients/run.sh failed")
	require.Contains(t, lastLine(string(out)), " 0 failed")
}

// missingClients names what run.sh needs and this machine lacks, or "".
func missingClients(clients string) string {
	var missing []string
	if exec.Command("/usr/bin/python3", "-c", "import gitlab").Run() != nil {
		missing = append(missing, "python3-gitlab")
	}
	if _, err := os.Stat(filepath.Join(clients, "node_modules", "@gitbeaker", "rest", "package.json")); err != nil {
		missing = append(missing, "@gitbeaker/rest (npm ci in clients/)")
	}
	for _, tool := range []string{"node", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	return strings.Join(missing, ", ")
}

// inCI reports whether CI is set to a true value (CI=true, as CI services
// set it, or CI=1): there a suite that cannot run fails.
func inCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
