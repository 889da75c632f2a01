package readmetest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		line    string
		words   []string
		comment string
		wantErr bool
	}{
		{line: `curl --header "PRIVATE-TOKEN: x" "http://h/a?b=c&d=e"`, words: []string{"curl", "--header", "PRIVATE-TOKEN: x", "http://h/a?b=c&d=e"}},
		{line: `curl 'a b' c\ d "e\"f"   # → 200, zip`, words: []string{"curl", "a b", "c d", `e"f`}, comment: "# → 200, zip"},
		{line: `go run ./x -flag "1 week"`, words: []string{"go", "run", "./x", "-flag", "1 week"}},
		{line: `a#b`, words: []string{"a#b"}},
		{line: `echo "$HOME"`, wantErr: true},
		{line: `echo "open`, wantErr: true},
	}
	for _, tt := range tests {
		words, comment, err := splitWords(tt.line)
		if tt.wantErr {
			require.Error(t, err, tt.line)
			continue
		}
		require.NoError(t, err, tt.line)
		require.Equal(t, tt.words, words, tt.line)
		require.Equal(t, tt.comment, comment, tt.line)
	}
}

// TestTestCommandCoversEveryModule: the README's test command runs the tests
// of every module that .ci/modules lists, the ones .ci/test-all runs.
func TestTestCommandCoversEveryModule(t *testing.T) {
	f, err := os.Open(filepath.Join(filepath.Dir(Path(t)), ".ci", "modules"))
	require.NoError(t, err)
	defer f.Close()
	var modules []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			modules = append(modules, line)
		}
	}
	require.NoError(t, sc.Err())
	require.Contains(t, modules, ".")

	var testCommand string
	for _, c := range Commands(t) {
		if strings.Contains(c.Line, "go test") {
			testCommand = c.Line
			break
		}
	}
	require.NotEmpty(t, testCommand, "the README has a go test command")
	loop, _, ok := strings.Cut(strings.TrimPrefix(testCommand, "rc=0; for m in "), "; do")
	require.True(t, ok, "the test command is a loop over the modules: %s", testCommand)
	require.ElementsMatch(t, modules, strings.Fields(loop), "the README's test command and .ci/modules")
}
