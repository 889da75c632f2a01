package tokenauth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/stretchr/testify/require"
)

func TestLoadConfigAndApply(t *testing.T) {
	const file = `{
	  "users": [
	    {"name": "alice", "tokens": ["glpat-a1", "oauth-a2"], "roles": {"1": "Maintainer", "7": "guest"}},
	    {"name": "bob", "tokens": ["glpat-b"], "expires_at": "2030-01-02T03:04:05Z", "roles": {"1": "reporter"}}
	  ],
	  "job_tokens": {"glcbt-x": 100}
	}`
	cfg, err := LoadConfig(strings.NewReader(file))
	require.NoError(t, err)
	require.Len(t, cfg.Users, 2)
	require.Equal(t, map[int64]Role{1: Maintainer, 7: Guest}, cfg.Users[0].Roles)
	require.Equal(t, []string{"glpat-a1", "oauth-a2"}, cfg.Users[0].Tokens)
	require.NotNil(t, cfg.Users[1].ExpiresAt)
	require.True(t, cfg.Users[1].ExpiresAt.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)))
	require.Equal(t, map[string]int64{"glcbt-x": 100}, cfg.JobTokens)

	auth := New(memstore.New())
	require.NoError(t, auth.Apply(cfg))
	for _, token := range []string{"glpat-a1", "oauth-a2"} {
		principal, err := auth.Authenticate(context.Background(), jobartifacts.Credential{Kind: jobartifacts.BearerToken, Token: token})
		require.NoError(t, err)
		require.Equal(t, "alice", principal.Name())
		require.Equal(t, Maintainer, principal.(*UserPrincipal).Role(1))
	}
	// Applying the same config again clashes with what is there, and adds nothing.
	require.ErrorIs(t, auth.Apply(cfg), ErrDuplicateUser)
}

func TestLoadConfigRejects(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		wantErr error
	}{
		{"not JSON", `users: []`, ErrInvalidConfig},
		{"unknown field", `{"users": [], "admins": []}`, ErrInvalidConfig},
		{"unknown user field", `{"users": [{"name": "a", "tokens": ["t"], "role": "owner"}]}`, ErrInvalidConfig},
		{"unknown role", `{"users": [{"name": "a", "tokens": ["t"], "roles": {"1": "admin"}}]}`, ErrUnknownRole},
		{"project id not a number", `{"users": [{"name": "a", "tokens": ["t"], "roles": {"app": "guest"}}]}`, ErrInvalidConfig},
		{"trailing data", `{"users": []} {"users": []}`, ErrInvalidConfig},
		{"user without name", `{"users": [{"tokens": ["t"]}]}`, ErrInvalidConfig},
		{"empty token", `{"users": [{"name": "a", "tokens": [""]}]}`, ErrInvalidConfig},
		{"two users of one name", `{"users": [{"name": "a", "tokens": ["t1"]}, {"name": "a", "tokens": ["t2"]}]}`, ErrDuplicateUser},
		{"token given twice", `{"users": [{"name": "a", "tokens": ["t"]}, {"name": "b", "tokens": ["t"]}]}`, ErrDuplicateToken},
		{"token both user's and job's", `{"users": [{"name": "a", "tokens": ["t"]}], "job_tokens": {"t": 5}}`, ErrDuplicateToken},
		{"job id not positive", `{"job_tokens": {"t": 0}}`, ErrInvalidConfig},
		{"empty job token", `{"job_tokens": {"": 5}}`, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(strings.NewReader(tt.file))
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestApplyIsAllOrNothing(t *testing.T) {
	auth := New(memstore.New())
	require.NoError(t, auth.AddJobToken("glcbt-taken", 9))
	err := auth.Apply(Config{
		Users:     []User{{Name: "alice", Tokens: []string{"glpat-alice"}}},
		JobTokens: map[string]int64{"glcbt-new": 10, "glcbt-taken": 11},
	})
	require.ErrorIs(t, err, ErrDuplicateToken)

	_, err = auth.Authenticate(context.Background(), jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: "glpat-alice"})
	require.ErrorIs(t, err, jobartifacts.ErrUnauthorized, "a failed Apply must not add alice")
	require.NoError(t, auth.AddUser(User{Name: "alice", Tokens: []string{"glpat-alice"}}), "nor reserve her name")
}

func TestAddUserKeepsItsOwnCopy(t *testing.T) {
	auth := New(memstore.New())
	roles := map[int64]Role{1: Reporter}
	expiresAt := time.Now().Add(time.Hour)
	require.NoError(t, auth.AddUser(User{Name: "alice", Tokens: []string{"glpat-alice"}, Roles: roles, ExpiresAt: &expiresAt}))
	roles[1] = Owner
	expiresAt = time.Now().Add(-time.Hour)

	principal, err := auth.Authenticate(context.Background(), jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: "glpat-alice"})
	require.NoError(t, err, "changing the caller's ExpiresAt must not expire the token")
	require.Equal(t, Reporter, principal.(*UserPrincipal).Role(1))
}

func TestAddRejects(t *testing.T) {
	auth := New(memstore.New())
	require.NoError(t, auth.AddUser(User{Name: "alice", Tokens: []string{"glpat-alice"}}))
	require.ErrorIs(t, auth.AddUser(User{Name: "alice", Tokens: []string{"glpat-other"}}), ErrDuplicateUser)
	require.ErrorIs(t, auth.AddUser(User{Name: "bob", Tokens: []string{"glpat-alice"}}), ErrDuplicateToken)
	require.ErrorIs(t, auth.AddUser(User{Name: "bob", Tokens: []string{"glpat-bob"}, Roles: map[int64]Role{1: Role(25)}}), ErrUnknownRole)
	require.ErrorIs(t, auth.AddUser(User{Name: "bob", Tokens: []string{"glpat-bob"}, Roles: map[int64]Role{1: NoRole}}), ErrUnknownRole)
	require.ErrorIs(t, auth.AddJobToken("glpat-alice", 5), ErrDuplicateToken)
	require.ErrorIs(t, auth.AddJobToken("glcbt-x", -1), ErrInvalidConfig)
	require.NoError(t, auth.AddJobToken("glcbt-x", 5))
	require.ErrorIs(t, auth.AddUser(User{Name: "bob", Tokens: []string{"glcbt-x"}}), ErrDuplicateToken)
}

func TestJobTokenWithoutStore(t *testing.T) {
	auth := New(nil)
	require.NoError(t, auth.AddJobToken("glcbt-x", 5))
	_, err := auth.Authenticate(context.Background(), jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: "glcbt-x"})
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.NotErrorIs(t, err, jobartifacts.ErrUnauthorized, "a wiring mistake is a 500, not a bad token")
}
