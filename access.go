package jobartifacts

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
)

// The checks every project and job route runs first, in GitLab's order.

// access is what the common checks of a project route established.
type access struct {
	principal Principal
	project   *Project
}

// authenticate turns the request's credential into a principal. A credential
// that the Authorizer refuses is 401, never anonymous. mustAuthenticate is
// GitLab's authenticate_non_get!: such routes refuse anonymous requests.
func (h *Handler) authenticate(r *http.Request, acceptJobToken, mustAuthenticate bool) (Principal, error) {
	cred := credentialFrom(r, acceptJobToken)
	p, err := h.authz.Authenticate(r.Context(), cred)
	if err != nil {
		if errors.Is(err, ErrUnauthorized) {
			return nil, errUnauthorized
		}
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if p == nil && (cred.Kind != NoCredential || mustAuthenticate) {
		return nil, errUnauthorized
	}
	return p, nil
}

// projectAccess runs the first checks of every project route, in GitLab's
// order: credential (401), project (404), project visible and action allowed
// at project level (404, 403).
func (h *Handler) projectAccess(r *http.Request, sc *requestScope, action Action, acceptJobToken bool) (access, error) {
	return h.projectAccessWith(r, sc, action, acceptJobToken, nil)
}

// jobLookup is the job that projectAccessWith read with the project, for
// the job step; read is false when it did not.
type jobLookup struct {
	read bool
	job  *Job
	err  error
}

// projectAccessWith is projectAccess; with a non-nil jl and a store that is
// a ProjectJobReader, it reads the route's job together with the project
// and leaves it in jl.
func (h *Handler) projectAccessWith(r *http.Request, sc *requestScope, action Action, acceptJobToken bool, jl *jobLookup) (access, error) {
	mustAuthenticate := r.Method != http.MethodGet && r.Method != http.MethodHead
	p, err := h.authenticate(r, acceptJobToken, mustAuthenticate)
	if err != nil {
		return access{}, err
	}
	var project *Project
	if jl != nil && h.projectJobs != nil {
		project, err = h.projectAndJob(r, sc, jl)
	} else {
		project, err = h.project(r.Context(), varsOf(r, sc).id)
	}
	if err != nil {
		return access{}, err
	}
	markPublic(r, sc, project)
	if err := h.authorize(r.Context(), p, action, project, nil); err != nil {
		return access{}, err
	}
	return access{principal: p, project: project}, nil
}

// jobAccess runs the checks of a job route: those of projectAccess, then the
// job (404) and the job-level permission.
func (h *Handler) jobAccess(r *http.Request, sc *requestScope, action Action, acceptJobToken bool) (access, *Job, error) {
	var jl jobLookup
	a, err := h.projectAccessWith(r, sc, action, acceptJobToken, &jl)
	if err != nil {
		return access{}, nil, err
	}
	j, err := h.job(r, sc, a, action, jl)
	if err != nil {
		return access{}, nil, err
	}
	return a, j, nil
}

// project resolves the :id route variable: a decimal id, or a URL-encoded
// full path. A path without a "/" names no project.
func (h *Handler) project(ctx context.Context, rawID string) (*Project, error) {
	id, err := url.PathUnescape(rawID)
	if err != nil || id == "" {
		return nil, errProjectNotFound
	}
	var p *Project
	if n, ok := parsePositiveInt(id); ok {
		p, err = h.store.Project(ctx, n)
	} else if strings.Contains(id, "/") {
		p, err = h.store.ProjectByPath(ctx, id)
	} else {
		return nil, errProjectNotFound
	}
	if err != nil {
		return nil, wrapNotFound(err, errProjectNotFound, "project")
	}
	return p, nil
}

// projectAndJob is project for a route with a job, through the store's
// ProjectJob when the project is named by its id: the job it read (or the
// error of that lookup) is left in jl. Other routes' ids go to project.
func (h *Handler) projectAndJob(r *http.Request, sc *requestScope, jl *jobLookup) (*Project, error) {
	vars := varsOf(r, sc)
	projectID, ok := parsePositiveInt(vars.id)
	jobID, jobOK := parsePositiveInt(vars.jobID)
	if !ok || !jobOK {
		return h.project(r.Context(), vars.id)
	}
	p, j, err := h.projectJobs.ProjectJob(r.Context(), projectID, jobID)
	if p == nil {
		if err == nil {
			err = ErrNotFound
		}
		return nil, wrapNotFound(err, errProjectNotFound, "project")
	}
	*jl = jobLookup{read: true, job: j, err: err}
	return p, nil
}

// job resolves the :job_id route variable within the project and checks the
// job-level permission; jl is the job if projectAccessWith read it.
func (h *Handler) job(r *http.Request, sc *requestScope, a access, action Action, jl jobLookup) (*Job, error) {
	j, err := jl.job, jl.err
	if !jl.read {
		jobID, ok := parsePositiveInt(varsOf(r, sc).jobID)
		if !ok {
			return nil, errJobNotFound
		}
		j, err = h.store.Job(r.Context(), a.project.ID, jobID)
	}
	if err != nil {
		return nil, wrapNotFound(err, errJobNotFound, "job")
	}
	if err := h.authorize(r.Context(), a.principal, action, a.project, j); err != nil {
		return nil, err
	}
	return j, nil
}

// authorize asks the Authorizer and turns its Decision into an error: hidden
// is the same 404 as a missing project (job == nil) or job.
func (h *Handler) authorize(ctx context.Context, p Principal, action Action, project *Project, job *Job) error {
	d, err := h.authz.Authorize(ctx, p, action, project, job)
	if err != nil {
		return fmt.Errorf("authorize %s: %w", action, err)
	}
	switch {
	case d.Allowed():
		return nil
	case d.Hidden() && job == nil:
		return errProjectNotFound
	case d.Hidden():
		return errJobNotFound
	default:
		return forbiddenMessage(d.Message())
	}
}

// wrapNotFound answers notFound for a store's "does not exist", and keeps any
// other error (a 500) with context for the log.
func wrapNotFound(err error, notFound *apiError, what string) error {
	if isNotFound(err) {
		return notFound
	}
	return fmt.Errorf("look up %s: %w", what, err)
}

// parsePositiveInt parses a decimal id: digits only, greater than zero,
// at most math.MaxInt64 (as strconv.ParseInt would, in one pass: every
// job route parses two).
func parsePositiveInt(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		d := int64(s[i]) - '0'
		if d < 0 || d > 9 || n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, n > 0
}
