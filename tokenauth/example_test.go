package tokenauth_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// Configuring users and a job token from a file, then deciding requests the
// way the handler asks.
func Example() {
	ctx := context.Background()
	store := memstore.New()
	app := jobartifacts.Project{ID: 1, PathWithNamespace: "team/app", Visibility: "private"}
	tool := jobartifacts.Project{ID: 2, PathWithNamespace: "team/tool", Visibility: "private"}
	must(store.PutProject(ctx, app))
	must(store.PutProject(ctx, tool))
	must(store.PutPipeline(ctx, jobartifacts.Pipeline{ID: 20, ProjectID: 2, Ref: "main", Status: jobartifacts.StatusRunning}))
	must(store.PutJob(ctx, jobartifacts.Job{ID: 200, ProjectID: 2, Pipeline: jobartifacts.Pipeline{ID: 20}, Status: jobartifacts.StatusRunning}))

	cfg, err := tokenauth.LoadConfig(strings.NewReader(`{
	  "users": [
	    {"name": "alice", "tokens": ["glpat-alice"], "roles": {"1": "maintainer"}},
	    {"name": "bob", "tokens": ["glpat-bob"], "roles": {"1": "guest"}}
	  ],
	  "job_tokens": {"glcbt-tool-job": 200}
	}`))
	must(err)
	auth := tokenauth.New(store)
	must(auth.Apply(cfg))

	decide := func(cred jobartifacts.Credential, action jobartifacts.Action) {
		principal, err := auth.Authenticate(ctx, cred)
		if err != nil {
			fmt.Printf("%v: 401\n", cred.Kind)
			return
		}
		d, err := auth.Authorize(ctx, principal, action, &app, nil)
		must(err)
		name := "anonymous"
		if principal != nil {
			name = principal.Name()
		}
		switch {
		case d.Allowed():
			fmt.Printf("%s %v: allowed\n", name, action)
		case d.Hidden():
			fmt.Printf("%s %v: 404\n", name, action)
		default:
			fmt.Printf("%s %v: 403 %q\n", name, action, d.Message())
		}
	}
	decide(jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: "glpat-alice"}, jobartifacts.ActionDeleteArtifacts)
	decide(jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: "glpat-bob"}, jobartifacts.ActionReadArtifacts)
	decide(jobartifacts.Credential{}, jobartifacts.ActionReadArtifacts)
	decide(jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: "glpat-wrong"}, jobartifacts.ActionReadArtifacts)
	decide(jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: "glcbt-tool-job"}, jobartifacts.ActionReadArtifacts)

	// team/app lets team/tool's jobs in.
	app.JobTokenAllowlist = []int64{tool.ID}
	decide(jobartifacts.Credential{Kind: jobartifacts.BearerToken, Token: "glcbt-tool-job"}, jobartifacts.ActionReadArtifacts)

	// Output:
	// alice delete_artifacts: allowed
	// bob read_artifacts: 403 ""
	// anonymous read_artifacts: 404
	// personal-token: 401
	// job:200 read_artifacts: 403 "403 Forbidden - Authentication by CI/CD job token not allowed from tool to app."
	// job:200 read_artifacts: allowed
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
