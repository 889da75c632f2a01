package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/readmetest"
)

// TestMountings serves the same requests through both host applications:
// the host's own route, downloads by project id, path and alias, and a path
// with "//" that only the gorilla/mux mounting passes on untouched.
func TestMountings(t *testing.T) {
	archive := widgetsArchive()
	apps := map[string]func(http.Handler) http.Handler{"gorilla": gorillaApp, "servemux": serveMuxApp}
	requests := []struct {
		name     string
		path     string
		status   map[string]int // by app; both the same unless noted
		wantBody string
	}{
		{name: "host route", path: "/healthz", wantBody: "ok\n"},
		{name: "archive by id", path: "/api/v4/projects/7/jobs/700/artifacts", wantBody: string(archive)},
		{name: "archive by ref", path: "/api/v4/projects/acme%2Fwidgets/jobs/artifacts/main/download?job=build", wantBody: string(archive)},
		{name: "file by alias", path: "/api/v4/projects/acme%2Fold-widgets/jobs/artifacts/main/raw/dist/app.txt?job=build", wantBody: "widgets 1.0\n"},
		{name: "unknown alias", path: "/api/v4/projects/acme%2Fgadgets/jobs/700/artifacts", status: map[string]int{"gorilla": 404, "servemux": 404},
			wantBody: `{"message":"404 Project Not Found"}`},
		// The handler sees "dist//app.txt" and answers that no such entry
		// exists; ServeMux redirects to a cleaned path instead.
		{name: "uncleaned path", path: "/api/v4/projects/7/jobs/700/artifacts/dist//app.txt",
			status: map[string]int{"gorilla": http.StatusNotFound, "servemux": http.StatusTemporaryRedirect}},
	}
	for appName, newApp := range apps {
		api, err := newArtifactsAPI(context.Background())
		require.NoError(t, err)
		ts := httptest.NewServer(newApp(api))
		client := ts.Client()
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		for _, req := range requests {
			t.Run(appName+"/"+req.name, func(t *testing.T) {
				resp, err := client.Get(ts.URL + req.path)
				require.NoError(t, err)
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				want := http.StatusOK
				if s, ok := req.status[appName]; ok {
					want = s
				}
				require.Equal(t, want, resp.StatusCode, "body: %s", body)
				if req.wantBody != "" {
					require.Equal(t, req.wantBody, string(body))
				}
			})
		}
		ts.Close()
	}
}

// TestREADMELines plays the README's curl lines for this program against
// its default (gorilla/mux) application.
func TestREADMELines(t *testing.T) {
	api, err := newArtifactsAPI(context.Background())
	require.NoError(t, err)
	ts := httptest.NewServer(gorillaApp(api))
	defer ts.Close()
	played := 0
	for _, c := range readmetest.Commands(t) {
		if len(c.Words) > 0 && c.Words[0] == "curl" && strings.Contains(c.Line, "http://127.0.0.1:8081") {
			readmetest.Curl(t, c, "http://127.0.0.1:8081", ts.URL, t.TempDir())
			played++
		}
	}
	require.Positive(t, played)
}
