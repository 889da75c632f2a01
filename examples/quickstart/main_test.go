package main

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/readmetest"
)

// quickstartOrigin is where the README's lines reach this program.
const quickstartOrigin = "http://127.0.0.1:8082"

// TestREADMEShowsThisProgram: the README's embedding program is this file,
// byte for byte, so what a reader copies is what the tests build.
func TestREADMEShowsThisProgram(t *testing.T) {
	source, err := os.ReadFile("main.go")
	require.NoError(t, err)
	var found bool
	for _, b := range readmetest.Blocks(t) {
		if b.Lang == "go" && b.Text == string(source) {
			found = true
		}
	}
	require.True(t, found, "README.md has no go block identical to examples/quickstart/main.go: copy the file into it")
}

// TestREADMELines plays the README's curl lines for this program, in order,
// against it: a download by ref, the whole archive, its upload by the
// running job's token, and the listing of what was uploaded.
func TestREADMELines(t *testing.T) {
	ts := httptest.NewServer(newApp(context.Background()))
	defer ts.Close()
	dir := t.TempDir()
	played := 0
	for _, c := range readmetest.Commands(t) {
		if len(c.Words) > 0 && c.Words[0] == "curl" && strings.Contains(c.Line, quickstartOrigin) {
			readmetest.Curl(t, c, quickstartOrigin, ts.URL, dir)
			played++
		}
	}
	require.GreaterOrEqual(t, played, 4)
}
