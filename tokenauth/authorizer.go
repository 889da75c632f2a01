package tokenauth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// Errors of this package. Authenticate's rejections wrap
// jobartifacts.ErrUnauthorized instead, so that the handler answers 401.
var (
	// ErrUnknownRole: a role name or number is not one of GitLab's roles.
	ErrUnknownRole = errors.New("tokenauth: unknown role")
	// ErrDuplicateToken: a token is already given to a user or a job.
	ErrDuplicateToken = errors.New("tokenauth: token already in use")
	// ErrDuplicateUser: a user of that name already exists.
	ErrDuplicateUser = errors.New("tokenauth: user already exists")
	// ErrInvalidConfig: a user or job token is incomplete (empty name or
	// token, job id not positive, …).
	ErrInvalidConfig = errors.New("tokenauth: invalid configuration")
	// ErrUnknownPrincipal: Authorize got a principal that no tokenauth
	// Authorizer made; that is a wiring mistake, answered 500.
	ErrUnknownPrincipal = errors.New("tokenauth: principal not made by tokenauth")
)

// Authorizer is a jobartifacts.Authorizer that knows users by their personal
// or OAuth tokens and jobs by their job tokens, and decides with GitLab's
// roles. It is safe for concurrent use; users and job tokens may be added
// while it serves requests. The principals it returns are read-only, and a
// user's are shared by all of the user's requests (see UserPrincipal).
type Authorizer struct {
	store jobartifacts.MetadataStore
	now   func() time.Time

	mu         sync.RWMutex
	userTokens map[string]*user // personal/OAuth token → user
	userNames  map[string]*user
	jobTokens  map[string]int64 // job token → job id
}

var _ jobartifacts.Authorizer = (*Authorizer)(nil)

// Option configures an Authorizer.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock sets the clock used to tell whether a token has expired; the
// default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// New returns an Authorizer with no users and no job tokens. store is where
// job tokens' jobs are looked up (JobByID) and where a job token's own
// project is found for GitLab's allowlist message (Project); it may be nil
// if no job tokens are added.
func New(store jobartifacts.MetadataStore, opts ...Option) *Authorizer {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return &Authorizer{
		store:      store,
		now:        o.now,
		userTokens: make(map[string]*user),
		userNames:  make(map[string]*user),
		jobTokens:  make(map[string]int64),
	}
}

// User is a person (or bot) with tokens and roles.
type User struct {
	// Name identifies the user in logs; it must be unique and not empty.
	Name string `json:"name"`
	// Tokens are the user's personal access tokens and OAuth tokens; each
	// may be sent as PRIVATE-TOKEN or as Authorization: Bearer.
	Tokens []string `json:"tokens"`
	// ExpiresAt, if set, is when all of the user's tokens stop working
	// (401 from then on).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Roles maps project ids to the user's role in that project. A project
	// not listed means the user is not a member.
	Roles map[int64]Role `json:"roles,omitempty"`
}

// user is the immutable record behind a User: principals point at it
// without locking.
type user struct {
	name      string
	expiresAt *time.Time
	roles     map[int64]Role
	// principal is the user's UserPrincipal, made with the record, so that
	// authenticating a request allocates nothing.
	principal *UserPrincipal
}

// AddUser adds a user. It fails with ErrDuplicateUser if the name is taken,
// ErrDuplicateToken if a token is already in use, ErrUnknownRole or
// ErrInvalidConfig if u is not complete; nothing is added then.
func (a *Authorizer) AddUser(u User) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addLocked([]User{u}, nil)
}

// AddJobToken makes token the job token of job jobID. The token
// authenticates only while the job's status is "running", as GitLab's job
// tokens do. It fails with ErrDuplicateToken if token is already in use, and
// ErrInvalidConfig for an empty token or a job id that is not positive.
func (a *Authorizer) AddJobToken(token string, jobID int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addLocked(nil, map[string]int64{token: jobID})
}

// addLocked checks every user and job token first and only then adds them
// all, so that a failed Apply leaves the Authorizer as it was.
func (a *Authorizer) addLocked(users []User, jobTokens map[string]int64) error {
	inUse := func(token string) bool {
		_, byUser := a.userTokens[token]
		_, byJob := a.jobTokens[token]
		return byUser || byJob
	}
	seenTokens := make(map[string]bool)
	seenNames := make(map[string]bool)
	records := make([]*user, len(users))
	for i, u := range users {
		if u.Name == "" {
			return fmt.Errorf("user %d has no name: %w", i+1, ErrInvalidConfig)
		}
		if _, taken := a.userNames[u.Name]; taken || seenNames[u.Name] {
			return fmt.Errorf("user %q: %w", u.Name, ErrDuplicateUser)
		}
		seenNames[u.Name] = true
		for j, token := range u.Tokens {
			if token == "" {
				return fmt.Errorf("user %q: token %d is empty: %w", u.Name, j+1, ErrInvalidConfig)
			}
			// The token itself is never put in an error: errors end up in logs.
			if inUse(token) || seenTokens[token] {
				return fmt.Errorf("user %q: token %d: %w", u.Name, j+1, ErrDuplicateToken)
			}
			seenTokens[token] = true
		}
		for projectID, role := range u.Roles {
			if !role.valid() {
				return fmt.Errorf("user %q, project %d: %v: %w", u.Name, projectID, role, ErrUnknownRole)
			}
		}
		rec := &user{name: u.Name, roles: maps.Clone(u.Roles)}
		rec.principal = &UserPrincipal{user: rec}
		if u.ExpiresAt != nil {
			expiresAt := *u.ExpiresAt
			rec.expiresAt = &expiresAt
		}
		records[i] = rec
	}
	for token, jobID := range jobTokens {
		if token == "" {
			return fmt.Errorf("job %d: empty job token: %w", jobID, ErrInvalidConfig)
		}
		if jobID <= 0 {
			return fmt.Errorf("job id %d is not positive: %w", jobID, ErrInvalidConfig)
		}
		if inUse(token) || seenTokens[token] {
			return fmt.Errorf("job %d: job token: %w", jobID, ErrDuplicateToken)
		}
		seenTokens[token] = true
	}

	for i, u := range users {
		a.userNames[u.Name] = records[i]
		for _, token := range u.Tokens {
			a.userTokens[token] = records[i]
		}
	}
	maps.Copy(a.jobTokens, jobTokens)
	return nil
}

// UserPrincipal is a user authenticated by a personal or OAuth token. A
// user has one, made by AddUser, and every request authenticated by the
// user's tokens gets that same pointer, so that authenticating allocates
// nothing: it is shared and read-only. What it holds (the name and a copy
// of the roles) never changes and is read through its methods; code that
// wraps the Authorizer must not assign through the pointer (*p = …), which
// would change who the user's later requests are.
type UserPrincipal struct {
	user *user
}

// Name returns the user's name.
func (p *UserPrincipal) Name() string { return p.user.name }

// Role returns the user's role in the project, NoRole if not a member.
func (p *UserPrincipal) Role(projectID int64) Role { return p.user.roles[projectID] }

// JobPrincipal is a running job authenticated by its job token. It acts for
// the job's project.
type JobPrincipal struct {
	jobID     int64
	projectID int64
}

// Name returns "job:" and the job's id.
func (p *JobPrincipal) Name() string { return "job:" + strconv.FormatInt(p.jobID, 10) }

// JobID returns the id of the job whose token this is.
func (p *JobPrincipal) JobID() int64 { return p.jobID }

// ProjectID returns the id of the job's project, which the token acts for.
func (p *JobPrincipal) ProjectID() int64 { return p.projectID }

// Authenticate implements jobartifacts.Authorizer. A PersonalToken matches
// only user tokens, a JobToken only job tokens, and a BearerToken a user
// token first, else a job token. An unknown or expired token, or the token
// of a job that is not running (or no longer exists), is an error wrapping
// jobartifacts.ErrUnauthorized; NoCredential is anonymous (nil, nil). A
// user token gives the user's one *UserPrincipal, shared by all the user's
// requests and read-only; a job token a *JobPrincipal of its own.
func (a *Authorizer) Authenticate(ctx context.Context, cred jobartifacts.Credential) (jobartifacts.Principal, error) {
	if cred.Kind == jobartifacts.NoCredential {
		return nil, nil
	}
	if cred.Token == "" {
		return nil, fmt.Errorf("tokenauth: empty %v: %w", cred.Kind, jobartifacts.ErrUnauthorized)
	}
	switch cred.Kind {
	case jobartifacts.PersonalToken:
		return a.authenticateUser(cred.Token)
	case jobartifacts.JobToken:
		return a.authenticateJob(ctx, cred.Token)
	case jobartifacts.BearerToken:
		if a.isUserToken(cred.Token) {
			return a.authenticateUser(cred.Token)
		}
		return a.authenticateJob(ctx, cred.Token)
	default:
		return nil, fmt.Errorf("tokenauth: credential kind %v: %w", cred.Kind, jobartifacts.ErrUnauthorized)
	}
}

func (a *Authorizer) isUserToken(token string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	_, ok := a.userTokens[token]
	return ok
}

func (a *Authorizer) authenticateUser(token string) (jobartifacts.Principal, error) {
	a.mu.RLock()
	u, ok := a.userTokens[token]
	a.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("tokenauth: unknown user token: %w", jobartifacts.ErrUnauthorized)
	}
	if u.expiresAt != nil && !a.now().Before(*u.expiresAt) {
		return nil, fmt.Errorf("tokenauth: token of user %q expired: %w", u.name, jobartifacts.ErrUnauthorized)
	}
	return u.principal, nil
}

func (a *Authorizer) authenticateJob(ctx context.Context, token string) (jobartifacts.Principal, error) {
	a.mu.RLock()
	jobID, ok := a.jobTokens[token]
	a.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("tokenauth: unknown job token: %w", jobartifacts.ErrUnauthorized)
	}
	if a.store == nil {
		return nil, fmt.Errorf("tokenauth: job token of job %d, but no store to look the job up: %w", jobID, ErrInvalidConfig)
	}
	job, err := a.store.JobByID(ctx, jobID)
	switch {
	case errors.Is(err, jobartifacts.ErrNotFound) || errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("tokenauth: job %d of job token not found: %w", jobID, jobartifacts.ErrUnauthorized)
	case err != nil:
		return nil, fmt.Errorf("tokenauth: look up job %d of job token: %w", jobID, err)
	}
	// GitLab's job tokens are valid only while their job runs.
	if job.Status != jobartifacts.StatusRunning {
		return nil, fmt.Errorf("tokenauth: job %d is %q, not running: %w", jobID, job.Status, jobartifacts.ErrUnauthorized)
	}
	return &JobPrincipal{jobID: job.ID, projectID: job.ProjectID}, nil
}
