package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/internal/readmetest"
)

// readmeOrigin is where the README's lines reach the example server.
const readmeOrigin = "http://127.0.0.1:8080"

// serverCommand is how the README runs this module from the repository
// root: go -C makes examples/server the working directory of the server.
var serverCommand = []string{"go", "-C", "examples/server", "run", "."}

// serverDir is that working directory, relative to the reader's.
const serverDir = "examples/server"

// TestREADMEWalkThrough does what the README tells a reader to do, line by
// line and in its order, in a fresh directory: start the server with the
// quick start's flags (every "go -C examples/server run . -demo" line of the
// README is the same), play every curl line against it, and run the import
// line while it serves, checking each "# → …" the lines promise.
//
// The glab and gitlab-runner-helper lines are not run: those tools are not
// available where the tests run, as the README says.
func TestREADMEWalkThrough(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	var demoArgs []string
	played, imported := 0, 0
	var ts *httptest.Server
	for _, c := range readmetest.Commands(t) {
		switch {
		case isServerCommand(c.Words) && slices.Contains(c.Words, "-demo"):
			args := c.Words[len(serverCommand):]
			if demoArgs != nil {
				require.Equal(t, demoArgs, args, "every demo command of the README is the same: %s", c.Line)
				continue
			}
			demoArgs = args
			cfg, err := parseServeFlags(demoArgs, io.Discard)
			require.NoError(t, err, c.Line)
			require.NotEmpty(t, cfg.token)
			require.NotEmpty(t, cfg.jobToken)
			store, err := fsstore.Open(filepath.Join(work, serverDir, cfg.dataDir), fsstore.WithoutFsync())
			require.NoError(t, err)
			defer store.Close()
			h, err := newServer(ctx, cfg, store, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			ts = httptest.NewServer(h)
			defer ts.Close()

		case isServerCommand(c.Words) && len(c.Words) > len(serverCommand) && c.Words[len(serverCommand)] == "import":
			require.NotNil(t, ts, "the import line comes after the demo is started")
			args := slices.Clone(c.Words[len(serverCommand)+1:])
			for i, a := range args { // paths are relative to the server's working directory
				if (i > 0 && args[i-1] == "-data") || (i == len(args)-1 && !strings.HasPrefix(a, "-")) {
					args[i] = filepath.Join(work, serverDir, a)
				}
			}
			args = append([]string{"import"}, args...)
			require.NoError(t, run(ctx, args, io.Discard, io.Discard), c.Line)
			imported++

		case len(c.Words) > 0 && c.Words[0] == "curl" && strings.Contains(c.Line, readmeOrigin):
			require.NotNil(t, ts, "%s: the demo is started first", c.Line)
			readmetest.Curl(t, c, readmeOrigin, ts.URL, work)
			played++
		}
	}
	require.NotNil(t, demoArgs, "the README starts the demo")
	require.Equal(t, 1, imported, "the README's import line")
	require.GreaterOrEqual(t, played, 20, "the README's curl lines")
}

// isServerCommand reports whether words run this module as the README does.
func isServerCommand(words []string) bool {
	return len(words) >= len(serverCommand) && slices.Equal(words[:len(serverCommand)], serverCommand)
}

// TestREADMETwoReplicas checks the README's two-replica lines: the binary
// they run is the one its build line makes, their flags parse, and the
// replicas differ only in their address.
func TestREADMETwoReplicas(t *testing.T) {
	const binary = "./jobartifacts-server"
	built := false
	var replicas [][]string
	for _, c := range readmetest.Commands(t) {
		switch {
		case slices.Equal(c.Words, []string{"go", "-C", serverDir, "build", "-o", "../../" + strings.TrimPrefix(binary, "./"), "."}):
			built = true
		case len(c.Words) > 0 && c.Words[0] == binary:
			require.True(t, built, "%s: the binary is built first", c.Line)
			cfg, err := parseServeFlags(c.Words[1:], io.Discard)
			require.NoError(t, err, c.Line)
			require.NotEmpty(t, cfg.postgresDSN, c.Line)
			require.NotEmpty(t, cfg.s3.bucket, c.Line)
			require.NotEmpty(t, cfg.authFile, c.Line)
			replicas = append(replicas, c.Words)
		}
	}
	require.Len(t, replicas, 2, "the README runs two replicas")
	withoutAddr := func(words []string) []string {
		i := slices.Index(words, "-addr")
		require.GreaterOrEqual(t, i, 0, "each replica has its -addr")
		return slices.Delete(slices.Clone(words), i, i+2)
	}
	require.Equal(t, withoutAddr(replicas[0]), withoutAddr(replicas[1]), "the replicas share everything but their address")
	require.NotEqual(t, replicas[0], replicas[1])
}

// TestREADMEServerFlags: the README's table of server flags names every
// flag the server has, and no other.
func TestREADMEServerFlags(t *testing.T) {
	var usage strings.Builder
	_, err := parseServeFlags([]string{"-h"}, &usage)
	require.ErrorIs(t, err, flag.ErrHelp)
	var defined []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(usage.String(), -1) {
		defined = append(defined, m[1])
	}
	require.GreaterOrEqual(t, len(defined), 30, "the usage lists the flags")

	readme, err := os.ReadFile(readmetest.Path(t))
	require.NoError(t, err)
	section := string(readme)
	start := strings.Index(section, "### Server flags\n")
	require.GreaterOrEqual(t, start, 0, "the README has its server flags")
	section = section[start:]
	end := strings.Index(section, "\n\n|")
	require.GreaterOrEqual(t, end, 0)
	section = section[end+2:]
	section = section[:strings.Index(section+"\n\n", "\n\n")]
	var documented []string
	for _, row := range strings.Split(section, "\n") {
		first, _, _ := strings.Cut(strings.TrimPrefix(row, "|"), "|")
		for _, m := range regexp.MustCompile("`-([a-z0-9-]+)`").FindAllStringSubmatch(first, -1) {
			documented = append(documented, m[1])
		}
	}
	slices.Sort(defined)
	slices.Sort(documented)
	require.Equal(t, defined, documented)
}
