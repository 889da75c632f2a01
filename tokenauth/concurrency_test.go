package tokenauth

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ciartifacts/jobartifacts"
	"github.com/stretchr/testify/require"
)

// TestConcurrentUse adds users and job tokens while other goroutines
// authenticate and authorize; run with -race. Goroutines only report
// results; every assertion is made here, on the test goroutine.
func TestConcurrentUse(t *testing.T) {
	auth, store := newTestAuthorizer(t)
	ctx := context.Background()
	private, err := store.Project(ctx, privateProjectID)
	require.NoError(t, err)

	const writers, readers, rounds = 4, 8, 200
	type result struct {
		reader  int
		allowed bool
		err     error
	}
	results := make(chan result, readers*rounds)
	writeErrs := make(chan error, 2*writers*rounds) // a user and a job token per round

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				name := fmt.Sprintf("user-%d-%d", w, i)
				writeErrs <- auth.AddUser(User{Name: name, Tokens: []string{"glpat-" + name}, Roles: map[int64]Role{privateProjectID: Reporter}})
				writeErrs <- auth.AddJobToken(fmt.Sprintf("glcbt-%d-%d", w, i), runningJobID)
			}
		})
	}
	for r := range readers {
		wg.Go(func() {
			// Even readers use alice's token, odd ones the running job's.
			cred := jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: aliceToken}
			if r%2 == 1 {
				cred = jobartifacts.Credential{Kind: jobartifacts.JobToken, Token: ownJobToken}
			}
			for range rounds {
				principal, err := auth.Authenticate(ctx, cred)
				if err != nil {
					results <- result{reader: r, err: err}
					continue
				}
				d, err := auth.Authorize(ctx, principal, jobartifacts.ActionReadArtifacts, private, nil)
				results <- result{reader: r, allowed: d.Allowed(), err: err}
			}
		})
	}
	wg.Wait()
	close(results)
	close(writeErrs)

	for err := range writeErrs {
		require.NoError(t, err)
	}
	count := 0
	for res := range results {
		require.NoError(t, res.err, "reader %d", res.reader)
		require.True(t, res.allowed, "reader %d", res.reader)
		count++
	}
	require.Equal(t, readers*rounds, count)

	// Everything the writers added works afterwards.
	for w := range writers {
		principal, err := auth.Authenticate(ctx, jobartifacts.Credential{Kind: jobartifacts.BearerToken, Token: fmt.Sprintf("glcbt-%d-%d", w, rounds-1)})
		require.NoError(t, err)
		require.Equal(t, "job:100", principal.Name())
		principal, err = auth.Authenticate(ctx, jobartifacts.Credential{Kind: jobartifacts.PersonalToken, Token: fmt.Sprintf("glpat-user-%d-%d", w, rounds-1)})
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("user-%d-%d", w, rounds-1), principal.Name())
	}
}
