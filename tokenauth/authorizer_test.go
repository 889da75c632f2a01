package tokenauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/stretchr/testify/require"
)

// Projects, jobs and tokens shared by the tests.
const (
	privateProjectID  = 1 // allowlists deployerProjectID
	internalProjectID = 2
	deployerProjectID = 3
	publicProjectID   = 4 // public pipelines on

	runningJobID      = 100 // in privateProjectID
	otherRunningJobID = 102 // in privateProjectID
	finishedJobID     = 101 // in privateProjectID
	deployerJobID     = 300 // in deployerProjectID
	publicJobID       = 400 // in publicProjectID
	missingJobID      = 999

	aliceToken      = "glpat-alice"
	bobToken        = "glpat-bob-oauth"
	expiredToken    = "glpat-expired"
	ownJobToken     = "glcbt-own"
	siblingJobToken = "glcbt-sibling"
	finishedToken   = "glcbt-finished"
	deployerToken   = "glcbt-deployer"
	publicJobToken  = "glcbt-public"
	missingJobToken = "glcbt-missing"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testProjects() []jobartifacts.Project {
	return []jobartifacts.Project{
		{ID: privateProjectID, PathWithNamespace: "team/private-app", Visibility: "private", JobTokenAllowlist: []int64{deployerProjectID}},
		{ID: internalProjectID, PathWithNamespace: "team/internal-lib", Visibility: "internal"},
		{ID: deployerProjectID, PathWithNamespace: "ops/deployer", Visibility: "private"},
		{ID: publicProjectID, PathWithNamespace: "oss/public-tool", Visibility: "public", PublicPipelines: true},
	}
}

func job(id, projectID int64, status string) jobartifacts.Job {
	return jobartifacts.Job{ID: id, ProjectID: projectID, Status: status, Pipeline: jobartifacts.Pipeline{ID: id * 10, ProjectID: projectID}}
}

func testJobs() []jobartifacts.Job {
	return []jobartifacts.Job{
		job(runningJobID, privateProjectID, jobartifacts.StatusRunning),
		job(otherRunningJobID, privateProjectID, jobartifacts.StatusRunning),
		job(finishedJobID, privateProjectID, jobartifacts.StatusSuccess),
		job(deployerJobID, deployerProjectID, jobartifacts.StatusRunning),
		job(publicJobID, publicProjectID, jobartifacts.StatusRunning),
	}
}

// newTestAuthorizer returns an Authorizer with alice (maintainer of the
// private project), bob (reporter), an expired user, and a job token for
// every test job, over a store holding testProjects and testJobs.
func newTestAuthorizer(t *testing.T) (*Authorizer, *testStore) {
	t.Helper()
	ctx := context.Background()
	store := &testStore{Store: memstore.New()}
	for _, p := range testProjects() {
		require.NoError(t, store.PutProject(ctx, p))
	}
	for _, j := range testJobs() {
		require.NoError(t, store.PutPipeline(ctx, j.Pipeline))
		require.NoError(t, store.PutJob(ctx, j))
	}
	auth := New(store, WithClock(func() time.Time { return testNow }))
	expired := testNow.Add(-time.Second)
	require.NoError(t, auth.Apply(Config{
		Users: []User{
			{Name: "alice", Tokens: []string{aliceToken}, Roles: map[int64]Role{privateProjectID: Maintainer}},
			{Name: "bob", Tokens: []string{bobToken}, Roles: map[int64]Role{privateProjectID: Reporter}},
			{Name: "eve", Tokens: []string{expiredToken}, ExpiresAt: &expired, Roles: map[int64]Role{privateProjectID: Owner}},
		},
		JobTokens: map[string]int64{
			ownJobToken:     runningJobID,
			siblingJobToken: otherRunningJobID,
			finishedToken:   finishedJobID,
			deployerToken:   deployerJobID,
			publicJobToken:  publicJobID,
			missingJobToken: missingJobID,
		},
	}))
	return auth, store
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		cred     jobartifacts.Credential
		wantName string // "" with wantErr == nil: anonymous
		wantErr  error
	}{
		{"no credential is anonymous", jobartifacts.Credential{}, "", nil},
		{"personal token", jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: aliceToken}, "alice", nil},
		{"bearer user token", jobartifacts.Credential{Kind: jobartifacts.BearerToken, Token: bobToken}, "bob", nil},
		{"bearer job token", jobartifacts.Credential{Kind: jobartifacts.BearerToken, Token: ownJobToken}, "job:100", nil},
		{"job token", jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: deployerToken}, "job:300", nil},
		{"unknown personal token", jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: "glpat-nobody"}, "", jobartifacts.ErrUnauthorized},
		{"unknown bearer token", jobartifacts.Credential{Kind: jobartifacts.BearerToken, Token: "nobody"}, "", jobartifacts.ErrUnauthorized},
		{"unknown job token", jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: "glcbt-nobody"}, "", jobartifacts.ErrUnauthorized},
		{"job token as personal token", jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: ownJobToken}, "", jobartifacts.ErrUnauthorized},
		{"user token as job token", jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: aliceToken}, "", jobartifacts.ErrUnauthorized},
		{"expired personal token", jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: expiredToken}, "", jobartifacts.ErrUnauthorized},
		{"expired bearer token does not fall back to job tokens", jobartifacts.Credential{Kind: jobartifacts.BearerToken, Token: expiredToken}, "", jobartifacts.ErrUnauthorized},
		{"token of a finished job", jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: finishedToken}, "", jobartifacts.ErrUnauthorized},
		{"bearer token of a finished job", jobartifacts.Credential{Kind: jobartifacts.BearerToken, Token: finishedToken}, "", jobartifacts.ErrUnauthorized},
		{"token of a job the store does not have", jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: missingJobToken}, "", jobartifacts.ErrUnauthorized},
		{"empty personal token", jobartifacts.Credential{Kind: jobartifacts.PersonalToken}, "", jobartifacts.ErrUnauthorized},
		{"unknown credential kind", jobartifacts.Credential{Kind: jobartifacts.CredentialKind(42), Token: aliceToken}, "", jobartifacts.ErrUnauthorized},
	}
	auth, _ := newTestAuthorizer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			principal, err := auth.Authenticate(ctx, tt.cred)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Nil(t, principal)
				if tt.cred.Token != "" {
					require.NotContains(t, err.Error(), tt.cred.Token)
				}
				return
			}
			require.NoError(t, err)
			if tt.wantName == "" {
				require.Nil(t, principal)
				return
			}
			require.NotNil(t, principal)
			require.Equal(t, tt.wantName, principal.Name())
			require.NotContains(t, principal.Name(), tt.cred.Token)
		})
	}
}

func TestAuthenticateJobPrincipal(t *testing.T) {
	auth, _ := newTestAuthorizer(t)
	principal, err := auth.Authenticate(context.Background(), jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: deployerToken})
	require.NoError(t, err)
	jp, ok := principal.(*JobPrincipal)
	require.True(t, ok, "got %T", principal)
	require.Equal(t, int64(deployerJobID), jp.JobID())
	require.Equal(t, int64(deployerProjectID), jp.ProjectID())

	principal, err = auth.Authenticate(context.Background(), jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: aliceToken})
	require.NoError(t, err)
	up, ok := principal.(*UserPrincipal)
	require.True(t, ok, "got %T", principal)
	require.Equal(t, Maintainer, up.Role(privateProjectID))
	require.Equal(t, NoRole, up.Role(publicProjectID))
}

// TestUserPrincipalIsTheUsers: each user has one principal, which every
// request authenticated by one of the user's tokens gets, however sent,
// without an allocation; another user's is another.
func TestUserPrincipalIsTheUsers(t *testing.T) {
	auth, _ := newTestAuthorizer(t)
	ctx := context.Background()
	authenticate := func(cred jobartifacts.Credential) jobartifacts.Principal {
		t.Helper()
		principal, err := auth.Authenticate(ctx, cred)
		require.NoError(t, err)
		return principal
	}
	alice := authenticate(jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: aliceToken})
	require.Same(t, alice, authenticate(jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: aliceToken}))
	require.Same(t, alice, authenticate(jobartifacts.Credential{Kind: jobartifacts.BearerToken, Token: aliceToken}))
	bob := authenticate(jobartifacts.Credential{Kind: jobartifacts.BearerToken, Token: bobToken})
	require.NotSame(t, alice, bob)
	require.Equal(t, "alice", alice.Name())
	require.Equal(t, Maintainer, alice.(*UserPrincipal).Role(privateProjectID))
	require.Equal(t, "bob", bob.Name())
	require.Equal(t, Reporter, bob.(*UserPrincipal).Role(privateProjectID))

	cred := jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: aliceToken}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := auth.Authenticate(ctx, cred); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

// TestUserPrincipalHoldsCopies: the shared principal is read-only for the
// host too: changing the User given to AddUser afterwards (its roles map,
// its expiry) changes neither the principal nor authentication.
func TestUserPrincipalHoldsCopies(t *testing.T) {
	auth := New(nil, WithClock(func() time.Time { return testNow }))
	expiresAt := testNow.Add(time.Hour)
	u := User{Name: "carol", Tokens: []string{"glpat-carol"}, ExpiresAt: &expiresAt, Roles: map[int64]Role{privateProjectID: Guest}}
	require.NoError(t, auth.AddUser(u))
	u.Roles[privateProjectID] = Owner
	u.Roles[publicProjectID] = Owner
	expiresAt = testNow.Add(-time.Hour)
	u.Tokens[0] = "glpat-other"

	principal, err := auth.Authenticate(context.Background(), jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: "glpat-carol"})
	require.NoError(t, err, "the expiry given is the one kept")
	up := principal.(*UserPrincipal)
	require.Equal(t, Guest, up.Role(privateProjectID))
	require.Equal(t, NoRole, up.Role(publicProjectID))
}

func TestAuthenticateStoreFailureIsNotUnauthorized(t *testing.T) {
	auth, store := newTestAuthorizer(t)
	storeDown := errors.New("database is down")
	store.failJobs(storeDown)

	_, err := auth.Authenticate(context.Background(), jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: ownJobToken})
	require.ErrorIs(t, err, storeDown)
	require.NotErrorIs(t, err, jobartifacts.ErrUnauthorized, "a broken store is a 500, not a bad token")
}

func TestJobTokenStopsWorkingWhenJobFinishes(t *testing.T) {
	auth, store := newTestAuthorizer(t)
	cred := jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: ownJobToken}
	_, err := auth.Authenticate(context.Background(), cred)
	require.NoError(t, err)

	require.NoError(t, store.PutJob(context.Background(), job(runningJobID, privateProjectID, jobartifacts.StatusFailed)))
	_, err = auth.Authenticate(context.Background(), cred)
	require.ErrorIs(t, err, jobartifacts.ErrUnauthorized)
}

func TestTokenExpiresAtItsTime(t *testing.T) {
	now := testNow
	auth := New(memstore.New(), WithClock(func() time.Time { return now }))
	expiresAt := testNow.Add(time.Hour)
	require.NoError(t, auth.AddUser(User{Name: "carol", Tokens: []string{"glpat-carol"}, ExpiresAt: &expiresAt}))
	cred := jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: "glpat-carol"}

	_, err := auth.Authenticate(context.Background(), cred)
	require.NoError(t, err)

	now = expiresAt
	_, err = auth.Authenticate(context.Background(), cred)
	require.ErrorIs(t, err, jobartifacts.ErrUnauthorized)
}

// decisionCode is a decision as one letter: A(llow), F(orbid), H(ide).
func decisionCode(d jobartifacts.Decision) string {
	switch {
	case d.Allowed():
		return "A"
	case d.Hidden():
		return "H"
	default:
		return "F"
	}
}

// The columns of userMatrix's expectations, in order.
var matrixPrincipals = []struct {
	name          string
	role          Role
	authenticated bool
}{
	{"anonymous", NoRole, false},
	{"outsider", NoRole, true},
	{"guest", Guest, true},
	{"reporter", Reporter, true},
	{"developer", Developer, true},
	{"maintainer", Maintainer, true},
	{"owner", Owner, true},
}

const matrixProjectID = 10

// matrixPrincipal authenticates the user (or anonymous) of column i.
func matrixPrincipal(t *testing.T, auth *Authorizer, i int) jobartifacts.Principal {
	t.Helper()
	col := matrixPrincipals[i]
	if !col.authenticated {
		return nil
	}
	principal, err := auth.Authenticate(context.Background(), jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: "glpat-matrix-" + col.name})
	require.NoError(t, err)
	return principal
}

func newMatrixAuthorizer(t *testing.T) *Authorizer {
	t.Helper()
	auth := New(memstore.New())
	for _, col := range matrixPrincipals {
		if !col.authenticated {
			continue
		}
		u := User{Name: col.name, Tokens: []string{"glpat-matrix-" + col.name}}
		if col.role != NoRole {
			u.Roles = map[int64]Role{matrixProjectID: col.role}
		}
		require.NoError(t, auth.AddUser(u))
	}
	return auth
}

// TestAuthorizeUsers is the decision matrix for users and anonymous
// requests. want has one letter per matrixPrincipals column:
// anonymous, outsider (no role), guest, reporter, developer, maintainer, owner.
func TestAuthorizeUsers(t *testing.T) {
	const noJob = "<no job>"
	tests := []struct {
		visibility      string
		publicPipelines bool
		action          jobartifacts.Action
		access          string // artifacts:access of the job, or noJob for the project-level check
		want            string
	}{
		// Reading: Reporter, or anyone who sees the project with public pipelines.
		{"private", false, jobartifacts.ActionReadArtifacts, noJob, "HHFAAAA"},
		{"private", true, jobartifacts.ActionReadArtifacts, noJob, "HHAAAAA"},
		{"internal", false, jobartifacts.ActionReadArtifacts, noJob, "HFFAAAA"},
		{"internal", true, jobartifacts.ActionReadArtifacts, noJob, "HAAAAAA"},
		{"public", false, jobartifacts.ActionReadArtifacts, noJob, "FFFAAAA"},
		{"public", true, jobartifacts.ActionReadArtifacts, noJob, "AAAAAAA"},
		{"", true, jobartifacts.ActionReadArtifacts, noJob, "HHAAAAA"},
		{"Public", true, jobartifacts.ActionReadArtifacts, noJob, "HHAAAAA"},

		// artifacts:access narrows reading once the job is known.
		{"public", true, jobartifacts.ActionReadArtifacts, "", "AAAAAAA"},
		{"public", true, jobartifacts.ActionReadArtifacts, "all", "AAAAAAA"},
		{"public", false, jobartifacts.ActionReadArtifacts, "all", "FFFAAAA"},
		{"private", false, jobartifacts.ActionReadArtifacts, "all", "HHFAAAA"},
		{"public", true, jobartifacts.ActionReadArtifacts, "developer", "FFFFAAA"},
		{"internal", true, jobartifacts.ActionReadArtifacts, "developer", "HFFFAAA"},
		{"private", false, jobartifacts.ActionReadArtifacts, "developer", "HHFFAAA"},
		{"public", true, jobartifacts.ActionReadArtifacts, "none", "FFFFFFF"},
		{"private", false, jobartifacts.ActionReadArtifacts, "none", "HHFFFFF"},
		{"public", true, jobartifacts.ActionReadArtifacts, "maintainer", "FFFFFFF"},

		// Keep: Developer.
		{"private", true, jobartifacts.ActionKeepArtifacts, noJob, "HHFFAAA"},
		{"internal", true, jobartifacts.ActionKeepArtifacts, noJob, "HFFFAAA"},
		{"public", true, jobartifacts.ActionKeepArtifacts, noJob, "FFFFAAA"},
		{"public", true, jobartifacts.ActionKeepArtifacts, "none", "FFFFAAA"},

		// Deletes: Maintainer.
		{"private", true, jobartifacts.ActionDeleteArtifacts, noJob, "HHFFFAA"},
		{"internal", false, jobartifacts.ActionDeleteArtifacts, "", "HFFFFAA"},
		{"public", true, jobartifacts.ActionDeleteArtifacts, noJob, "FFFFFAA"},
		{"private", false, jobartifacts.ActionDeleteProjectArtifacts, noJob, "HHFFFAA"},
		{"internal", false, jobartifacts.ActionDeleteProjectArtifacts, noJob, "HFFFFAA"},
		{"public", true, jobartifacts.ActionDeleteProjectArtifacts, noJob, "FFFFFAA"},

		// Uploads are for job tokens only: 403, never 404, so runners stop.
		{"private", false, jobartifacts.ActionUploadArtifacts, noJob, "FFFFFFF"},
		{"public", true, jobartifacts.ActionUploadArtifacts, "", "FFFFFFF"},

		// Unknown actions are hidden.
		{"public", true, jobartifacts.Action(0), noJob, "HHHHHHH"},
		{"public", true, jobartifacts.Action(99), "", "HHHHHHH"},
	}
	auth := newMatrixAuthorizer(t)
	for _, tt := range tests {
		name := fmt.Sprintf("%s/public_pipelines=%t/%v/access=%q", tt.visibility, tt.publicPipelines, tt.action, tt.access)
		t.Run(name, func(t *testing.T) {
			require.Len(t, tt.want, len(matrixPrincipals))
			project := &jobartifacts.Project{ID: matrixProjectID, PathWithNamespace: "matrix/app", Visibility: tt.visibility, PublicPipelines: tt.publicPipelines}
			var j *jobartifacts.Job
			if tt.access != noJob {
				jj := job(7, matrixProjectID, jobartifacts.StatusSuccess)
				jj.ArtifactsAccess = tt.access
				j = &jj
			}
			var got strings.Builder
			for i := range matrixPrincipals {
				d, err := auth.Authorize(context.Background(), matrixPrincipal(t, auth, i), tt.action, project, j)
				require.NoError(t, err)
				require.Empty(t, d.Message(), "users get GitLab's plain 403")
				got.WriteString(decisionCode(d))
			}
			require.Equal(t, tt.want, got.String(), "columns: anonymous outsider guest reporter developer maintainer owner")
		})
	}
}

// TestAuthorizeUsersProperties checks, over every combination, the rules
// that hold across the matrix: a higher role never fares worse, hiding
// happens exactly when the project is not visible, public pipelines and
// artifacts:access only ever widen and narrow reading respectively.
func TestAuthorizeUsersProperties(t *testing.T) {
	auth := newMatrixAuthorizer(t)
	rank := map[string]int{"H": 0, "F": 1, "A": 2}
	actions := []jobartifacts.Action{
		jobartifacts.ActionReadArtifacts, jobartifacts.ActionKeepArtifacts, jobartifacts.ActionDeleteArtifacts,
		jobartifacts.ActionDeleteProjectArtifacts,
	}
	decide := func(i int, visibility string, publicPipelines bool, action jobartifacts.Action, access *string) string {
		project := &jobartifacts.Project{ID: matrixProjectID, Visibility: visibility, PublicPipelines: publicPipelines}
		var j *jobartifacts.Job
		if access != nil {
			jj := job(7, matrixProjectID, jobartifacts.StatusSuccess)
			jj.ArtifactsAccess = *access
			j = &jj
		}
		d, err := auth.Authorize(context.Background(), matrixPrincipal(t, auth, i), action, project, j)
		require.NoError(t, err)
		return decisionCode(d)
	}
	accesses := []*string{nil, ptr(""), ptr("all"), ptr("developer"), ptr("none")}
	for _, visibility := range []string{"private", "internal", "public"} {
		for _, pp := range []bool{false, true} {
			for _, action := range actions {
				for _, access := range accesses {
					for i := range matrixPrincipals {
						got := decide(i, visibility, pp, action, access)
						col := matrixPrincipals[i]
						where := fmt.Sprintf("%s %s pp=%t %v access=%v", col.name, visibility, pp, action, access)

						seen := visibility == "public" || (visibility == "internal" && col.authenticated) || col.role >= Guest
						require.Equal(t, !seen, got == "H", "hidden iff not visible: %s", where)

						if i > 0 {
							require.GreaterOrEqual(t, rank[got], rank[decide(i-1, visibility, pp, action, access)], "higher role fares worse: %s", where)
						}
						if !pp {
							require.GreaterOrEqual(t, rank[decide(i, visibility, true, action, access)], rank[got], "public pipelines narrowed: %s", where)
						}
						if action == jobartifacts.ActionReadArtifacts && access != nil {
							require.LessOrEqual(t, rank[got], rank[decide(i, visibility, pp, action, nil)], "artifacts:access widened: %s", where)
						}
					}
				}
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestAuthorizeJobTokens is the decision matrix for job tokens: own project,
// a project that allowlists the token's project, other projects, and uploads.
func TestAuthorizeJobTokens(t *testing.T) {
	auth, store := newTestAuthorizer(t)
	ctx := context.Background()
	project := func(id int64) *jobartifacts.Project {
		p, err := store.Project(ctx, id)
		require.NoError(t, err)
		return p
	}
	jobWithAccess := func(id int64, access string) *jobartifacts.Job {
		j, err := store.JobByID(ctx, id)
		require.NoError(t, err)
		j.ArtifactsAccess = access
		return j
	}
	finished := job(runningJobID, privateProjectID, jobartifacts.StatusSuccess) // the token's own job, finished since Authenticate
	fromPublicToPrivate := "403 Forbidden - Authentication by CI/CD job token not allowed from public-tool to private-app."
	fromDeployerToPublic := "403 Forbidden - Authentication by CI/CD job token not allowed from deployer to public-tool."
	fromPublicToInternal := "403 Forbidden - Authentication by CI/CD job token not allowed from public-tool to internal-lib."
	fromPrivateToDeployer := "403 Forbidden - Authentication by CI/CD job token not allowed from private-app to deployer."

	tests := []struct {
		name        string
		token       string
		action      jobartifacts.Action
		project     *jobartifacts.Project
		job         *jobartifacts.Job
		want        string // A, F or H
		wantMessage string
	}{
		{"own project, project level", ownJobToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), nil, "A", ""},
		{"own project, sibling job", ownJobToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), jobWithAccess(otherRunningJobID, ""), "A", ""},
		{"own project, access developer", ownJobToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), jobWithAccess(finishedJobID, "developer"), "A", ""},
		{"own project, access none", ownJobToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), jobWithAccess(finishedJobID, "none"), "F", ""},
		{"own project, access unknown", ownJobToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), jobWithAccess(finishedJobID, "Developer"), "F", ""},

		{"allowlisted, project level", deployerToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), nil, "A", ""},
		{"allowlisted, access all", deployerToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), jobWithAccess(finishedJobID, "all"), "A", ""},
		{"allowlisted, access developer", deployerToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), jobWithAccess(finishedJobID, "developer"), "F", ""},
		{"allowlisted, access none", deployerToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), jobWithAccess(finishedJobID, "none"), "F", ""},
		{"allowlist is inbound only", ownJobToken, jobartifacts.ActionReadArtifacts, project(deployerProjectID), nil, "F", fromPrivateToDeployer},

		{"other private project", publicJobToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), nil, "F", fromPublicToPrivate},
		{"other private project, job level", publicJobToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), jobWithAccess(finishedJobID, ""), "F", fromPublicToPrivate},
		{"other internal project", publicJobToken, jobartifacts.ActionReadArtifacts, project(internalProjectID), nil, "F", fromPublicToInternal},
		{"other public project with public pipelines", deployerToken, jobartifacts.ActionReadArtifacts, project(publicProjectID), nil, "F", fromDeployerToPublic},

		{"keep, own project", ownJobToken, jobartifacts.ActionKeepArtifacts, project(privateProjectID), nil, "F", ""},
		{"delete, own project", ownJobToken, jobartifacts.ActionDeleteArtifacts, project(privateProjectID), jobWithAccess(finishedJobID, ""), "F", ""},
		{"delete project artifacts, own project", ownJobToken, jobartifacts.ActionDeleteProjectArtifacts, project(privateProjectID), nil, "F", ""},
		{"keep, allowlisted", deployerToken, jobartifacts.ActionKeepArtifacts, project(privateProjectID), nil, "F", ""},
		{"delete, other project", publicJobToken, jobartifacts.ActionDeleteArtifacts, project(privateProjectID), nil, "F", fromPublicToPrivate},

		{"upload, project level, own project", ownJobToken, jobartifacts.ActionUploadArtifacts, project(privateProjectID), nil, "A", ""},
		{"upload, own running job", ownJobToken, jobartifacts.ActionUploadArtifacts, project(privateProjectID), jobWithAccess(runningJobID, ""), "A", ""},
		{"upload, own job finished meanwhile", ownJobToken, jobartifacts.ActionUploadArtifacts, project(privateProjectID), &finished, "F", ""},
		{"upload, sibling job of same project", siblingJobToken, jobartifacts.ActionUploadArtifacts, project(privateProjectID), jobWithAccess(runningJobID, ""), "F", ""},
		{"upload, project level, allowlisted", deployerToken, jobartifacts.ActionUploadArtifacts, project(privateProjectID), nil, "F", ""},
		{"upload, other project's job", publicJobToken, jobartifacts.ActionUploadArtifacts, project(privateProjectID), jobWithAccess(runningJobID, ""), "F", ""},

		{"unknown action", ownJobToken, jobartifacts.Action(99), project(privateProjectID), nil, "H", ""},
		{"job of another project than given", ownJobToken, jobartifacts.ActionReadArtifacts, project(privateProjectID), jobWithAccess(publicJobID, ""), "H", ""},
		{"no project", ownJobToken, jobartifacts.ActionReadArtifacts, nil, nil, "H", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			principal, err := auth.Authenticate(ctx, jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: tt.token})
			require.NoError(t, err)
			d, err := auth.Authorize(ctx, principal, tt.action, tt.project, tt.job)
			require.NoError(t, err)
			require.Equal(t, tt.want, decisionCode(d))
			require.Equal(t, tt.wantMessage, d.Message())
		})
	}
}

func TestAllowlistMessage(t *testing.T) {
	require.Equal(t,
		"403 Forbidden - Authentication by CI/CD job token not allowed from group/sub/source to other/target.",
		AllowlistMessage("group/sub/source", "other/target"))
}

func TestAuthorizeUnknownPrincipal(t *testing.T) {
	auth, store := newTestAuthorizer(t)
	p, err := store.Project(context.Background(), publicProjectID)
	require.NoError(t, err)

	d, err := auth.Authorize(context.Background(), foreignPrincipal{}, jobartifacts.ActionReadArtifacts, p, nil)
	require.ErrorIs(t, err, ErrUnknownPrincipal)
	require.False(t, d.Allowed())

	// A typed nil pointer is anonymous, not a crash.
	d, err = auth.Authorize(context.Background(), (*UserPrincipal)(nil), jobartifacts.ActionReadArtifacts, p, nil)
	require.NoError(t, err)
	require.True(t, d.Allowed(), "anonymous may read a public project with public pipelines")
}

type foreignPrincipal struct{}

func (foreignPrincipal) Name() string { return "foreign" }

// TestAuthorizeJobTokenSourceProjectGone: the allowlist message needs the
// token's own project; without it the decision is an error (500), never an
// Allow.
func TestAuthorizeJobTokenSourceProjectGone(t *testing.T) {
	auth, store := newTestAuthorizer(t)
	ctx := context.Background()
	principal, err := auth.Authenticate(ctx, jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: deployerToken})
	require.NoError(t, err)
	target, err := store.Project(ctx, publicProjectID)
	require.NoError(t, err)

	store.failProjects(fmt.Errorf("project %d: %w", deployerProjectID, jobartifacts.ErrNotFound))

	d, err := auth.Authorize(ctx, principal, jobartifacts.ActionReadArtifacts, target, nil)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	require.False(t, d.Allowed())
}
