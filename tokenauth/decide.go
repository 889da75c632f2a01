package tokenauth

import (
	"context"
	"fmt"
	"path"
	"slices"

	"github.com/ciartifacts/jobartifacts"
)

// Project visibility levels as GitLab names them. Any other value, including
// "", is treated as private: an unknown setting must not open a project.
const (
	visibilityPublic   = "public"
	visibilityInternal = "internal"
)

// Values of Job.ArtifactsAccess (GitLab's artifacts:access keyword).
const (
	artifactsAccessAll       = "all"
	artifactsAccessDeveloper = "developer"
	artifactsAccessNone      = "none"
)

// Authorize implements jobartifacts.Authorizer with GitLab's rules for job
// artifacts (https://docs.gitlab.com/api/job_artifacts/ and
// https://docs.gitlab.com/user/permissions/):
//
//   - A project the principal may not see is hidden (404): public projects
//     are seen by everyone, internal ones by any authenticated principal,
//     private ones by members of any role.
//   - Reading artifacts needs Reporter, or a visible project with public
//     pipelines; the job's artifacts:access then narrows it ("developer":
//     Developer or higher; "none": nobody).
//   - Keeping needs Developer; both deletes need Maintainer.
//   - A job token reads its own project and the projects whose job token
//     allowlist lists its project; any other project is 403 with GitLab's
//     allowlist message, whatever its visibility. It may neither keep nor
//     delete.
//   - Uploading is only for the job token of that very job while it runs (at
//     project level, job == nil: a job token of that project); anything else
//     is 403, on which runners stop retrying.
//
// An unknown action, a nil project, or a job of another project is hidden.
func (a *Authorizer) Authorize(ctx context.Context, principal jobartifacts.Principal, action jobartifacts.Action, project *jobartifacts.Project, job *jobartifacts.Job) (jobartifacts.Decision, error) {
	if project == nil || (job != nil && job.ProjectID != project.ID) || !knownAction(action) {
		return jobartifacts.Hide(), nil
	}
	switch p := principal.(type) {
	case nil:
		return decideForRole(NoRole, false, action, project, job), nil
	case *UserPrincipal:
		if p == nil || p.user == nil {
			return decideForRole(NoRole, false, action, project, job), nil
		}
		return decideForRole(p.Role(project.ID), true, action, project, job), nil
	case *JobPrincipal:
		if p == nil {
			return decideForRole(NoRole, false, action, project, job), nil
		}
		return a.decideForJobToken(ctx, p, action, project, job)
	default:
		return jobartifacts.Hide(), fmt.Errorf("%w: %T", ErrUnknownPrincipal, principal)
	}
}

func knownAction(action jobartifacts.Action) bool {
	switch action {
	case jobartifacts.ActionReadArtifacts,
		jobartifacts.ActionKeepArtifacts,
		jobartifacts.ActionDeleteArtifacts,
		jobartifacts.ActionDeleteProjectArtifacts,
		jobartifacts.ActionUploadArtifacts:
		return true
	default:
		return false
	}
}

// decideForRole decides for a user with role in the project, or for an
// anonymous request (NoRole, not authenticated).
func decideForRole(role Role, authenticated bool, action jobartifacts.Action, project *jobartifacts.Project, job *jobartifacts.Job) jobartifacts.Decision {
	// Uploads come from runners with job tokens only; the runner gives up on 403.
	if action == jobartifacts.ActionUploadArtifacts {
		return jobartifacts.Forbid("")
	}
	if !visible(project, role, authenticated) {
		return jobartifacts.Hide()
	}
	switch action {
	case jobartifacts.ActionReadArtifacts:
		if role < Reporter && !project.PublicPipelines {
			return jobartifacts.Forbid("")
		}
		if job == nil {
			return jobartifacts.Allow()
		}
		return artifactsAccess(job, role >= Developer)
	case jobartifacts.ActionKeepArtifacts:
		return allowIf(role >= Developer)
	default: // ActionDeleteArtifacts, ActionDeleteProjectArtifacts
		return allowIf(role >= Maintainer)
	}
}

// visible reports whether a principal with role (authenticated or not) may
// see the project at all; if not, the project is hidden as if missing.
func visible(project *jobartifacts.Project, role Role, authenticated bool) bool {
	switch project.Visibility {
	case visibilityPublic:
		return true
	case visibilityInternal:
		return authenticated
	default:
		return role >= Guest
	}
}

// artifactsAccess applies the job's artifacts:access to a principal that may
// already read the project's artifacts. An unknown value forbids, so that a
// typo never opens artifacts meant to be narrowed.
func artifactsAccess(job *jobartifacts.Job, developer bool) jobartifacts.Decision {
	switch job.ArtifactsAccess {
	case "", artifactsAccessAll:
		return jobartifacts.Allow()
	case artifactsAccessDeveloper:
		return allowIf(developer)
	default: // artifactsAccessNone and unknown values
		return jobartifacts.Forbid("")
	}
}

func allowIf(ok bool) jobartifacts.Decision {
	if ok {
		return jobartifacts.Allow()
	}
	return jobartifacts.Forbid("")
}

// decideForJobToken decides for a running job's token. A job token has no
// user behind it here: in its own project it counts as a Developer for
// artifacts:access (GitLab runs pipelines for Developers and up); in an
// allowlisted project only as a reader.
func (a *Authorizer) decideForJobToken(ctx context.Context, p *JobPrincipal, action jobartifacts.Action, project *jobartifacts.Project, job *jobartifacts.Job) (jobartifacts.Decision, error) {
	ownProject := p.projectID == project.ID
	if action == jobartifacts.ActionUploadArtifacts {
		if job == nil {
			return allowIf(ownProject), nil
		}
		// job.Status is the store's current view: a job that finished since
		// Authenticate may no longer upload.
		return allowIf(job.ID == p.jobID && job.Status == jobartifacts.StatusRunning), nil
	}
	if !ownProject && !slices.Contains(project.JobTokenAllowlist, p.projectID) {
		return a.notAllowlisted(ctx, p, project)
	}
	if action != jobartifacts.ActionReadArtifacts {
		// Keep and delete do not accept job tokens in GitLab.
		return jobartifacts.Forbid(""), nil
	}
	if job == nil {
		return jobartifacts.Allow(), nil
	}
	return artifactsAccess(job, ownProject), nil
}

// notAllowlisted is GitLab's 403 for a job token used on a project whose
// allowlist does not list the token's project.
func (a *Authorizer) notAllowlisted(ctx context.Context, p *JobPrincipal, target *jobartifacts.Project) (jobartifacts.Decision, error) {
	if a.store == nil {
		return jobartifacts.Forbid(""), fmt.Errorf("tokenauth: no store to find project %d of job %d: %w", p.projectID, p.jobID, ErrInvalidConfig)
	}
	source, err := a.store.Project(ctx, p.projectID)
	if err != nil {
		return jobartifacts.Forbid(""), fmt.Errorf("tokenauth: project %d of job %d: %w", p.projectID, p.jobID, err)
	}
	return jobartifacts.Forbid(AllowlistMessage(projectPath(source), projectPath(target))), nil
}

// projectPath is GitLab's Project#path: the last segment of the full path,
// which is what GitLab's allowlist message names ("app", not "group/app").
func projectPath(p *jobartifacts.Project) string {
	return path.Base(p.PathWithNamespace)
}

// AllowlistMessage is the 403 message GitLab gives when a job token of
// project sourcePath is used on project targetPath, whose job token
// allowlist does not list it. GitLab names the projects by their path, the
// last segment of the full path.
func AllowlistMessage(sourcePath, targetPath string) string {
	return "403 Forbidden - Authentication by CI/CD job token not allowed from " + sourcePath + " to " + targetPath + "."
}
