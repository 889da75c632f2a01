package jobartifacts

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// CredentialKind says where a credential came from, which decides what it may
// be: GitLab looks for personal and OAuth tokens first, then job tokens.
type CredentialKind int

const (
	// NoCredential: the request carries no token; it is anonymous.
	NoCredential CredentialKind = iota
	// PersonalToken: PRIVATE-TOKEN header or private_token query parameter
	// (personal, project or group access tokens).
	PersonalToken
	// BearerToken: Authorization: Bearer. An OAuth token, or a job token: the
	// Authorizer decides.
	BearerToken
	// JobToken: JOB-TOKEN header, job_token or token query parameter. Only
	// looked for on the routes that accept job tokens.
	JobToken
)

// String returns the kind's name, for logs.
func (k CredentialKind) String() string {
	switch k {
	case PersonalToken:
		return "personal-token"
	case BearerToken:
		return "bearer-token"
	case JobToken:
		return "job-token"
	default:
		return "none"
	}
}

// Credential is the token a request presented. It is never logged.
type Credential struct {
	// Kind says where the token came from, and so what it may be: the zero
	// value, NoCredential, means the request carried none.
	Kind CredentialKind
	// Token is the token as sent, without "Bearer ".
	Token string
}

// Principal is whoever a request acts for, as an Authorizer's Authenticate
// returned it. A nil Principal is anonymous. Name is used in logs and must not
// contain a secret.
type Principal interface {
	Name() string
}

// Action is what a request wants to do with a project's or job's artifacts.
type Action int

const (
	// ActionReadArtifacts: download an archive, a single file, or list it
	// (routes 1–4, 8 and the runner download, route 10). GitLab: Reporter, or
	// anyone who can see the project when "public pipelines" is on.
	ActionReadArtifacts Action = iota + 1
	// ActionKeepArtifacts: keep a job's artifacts (route 5). GitLab: Developer.
	ActionKeepArtifacts
	// ActionDeleteArtifacts: delete one job's artifacts (route 6). GitLab: Maintainer.
	ActionDeleteArtifacts
	// ActionDeleteProjectArtifacts: expire all of a project's artifacts
	// (route 7). GitLab: Maintainer.
	ActionDeleteProjectArtifacts
	// ActionUploadArtifacts: the runner uploads a job's artifacts (route 9).
	// GitLab: the job token of that very job, while it runs.
	ActionUploadArtifacts
)

// String returns the action's name, for logs.
func (a Action) String() string {
	switch a {
	case ActionReadArtifacts:
		return "read_artifacts"
	case ActionKeepArtifacts:
		return "keep_artifacts"
	case ActionDeleteArtifacts:
		return "delete_artifacts"
	case ActionDeleteProjectArtifacts:
		return "delete_project_artifacts"
	case ActionUploadArtifacts:
		return "upload_artifacts"
	default:
		return "unknown"
	}
}

// Decision is an Authorizer's verdict. Its zero value hides: the handler
// answers 404 exactly as if the project or job did not exist, so that a
// forgotten case never leaks existence.
type Decision struct {
	verdict verdict
	message string
}

type verdict int

const (
	verdictHide verdict = iota
	verdictForbid
	verdictAllow
)

// Hide is the zero Decision: answer 404, as for a missing project or job.
func Hide() Decision { return Decision{} }

// Forbid answers 403. message, if not empty, replaces GitLab's
// "403 Forbidden" as the response's message, e.g. GitLab's job token
// allowlist text; it must not contain secrets or internal details.
func Forbid(message string) Decision { return Decision{verdict: verdictForbid, message: message} }

// Allow lets the request go on.
func Allow() Decision { return Decision{verdict: verdictAllow} }

// Allowed reports whether d allows the request.
func (d Decision) Allowed() bool { return d.verdict == verdictAllow }

// Hidden reports whether d hides the project or job (404).
func (d Decision) Hidden() bool { return d.verdict == verdictHide }

// Message returns the 403 message set with Forbid, if any.
func (d Decision) Message() string { return d.message }

// Authorizer is the host's permission model.
//
// Authenticate turns a credential into a principal. For NoCredential it MUST
// return a nil Principal (anonymous) and a nil error. For a credential it does
// not accept it MUST return an error wrapping ErrUnauthorized: a bad token is
// 401, never anonymous.
//
// Authorize decides whether principal (nil = anonymous) may do action. The
// handler calls it first at project level with job == nil, before it looks up
// any job, and then, for job routes, again with the job. It returns a
// Decision; an error is answered 500 (or per its sentinel).
type Authorizer interface {
	Authenticate(ctx context.Context, cred Credential) (Principal, error)
	Authorize(ctx context.Context, principal Principal, action Action, project *Project, job *Job) (Decision, error)
}

// credentialFrom extracts the request's credential in GitLab's order of
// precedence: personal/OAuth tokens first, then, where acceptJobToken,
// job tokens. The first source present wins, even if its token turns out to
// be invalid (GitLab answers 401 then, whatever else was sent).
func credentialFrom(r *http.Request, acceptJobToken bool) Credential {
	h := r.Header
	q := query(r)
	if t := h.Get("Private-Token"); t != "" {
		return Credential{Kind: PersonalToken, Token: t}
	}
	if t := q.Get("private_token"); t != "" {
		return Credential{Kind: PersonalToken, Token: t}
	}
	if t, ok := bearerToken(h.Get("Authorization")); ok {
		return Credential{Kind: BearerToken, Token: t}
	}
	if !acceptJobToken {
		return Credential{}
	}
	if t := h.Get("Job-Token"); t != "" {
		return Credential{Kind: JobToken, Token: t}
	}
	if t := q.Get("job_token"); t != "" {
		return Credential{Kind: JobToken, Token: t}
	}
	if t := q.Get("token"); t != "" {
		return Credential{Kind: JobToken, Token: t}
	}
	return Credential{}
}

// query is r's query; nil, which answers every Get with "", when there is
// none (parsing an empty one still allocates).
func query(r *http.Request) url.Values {
	if r.URL.RawQuery == "" {
		return nil
	}
	return r.URL.Query()
}

// bearerToken returns the token of an "Authorization: Bearer …" header.
// Basic and other schemes are not accepted on these routes.
func bearerToken(v string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
