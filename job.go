package jobartifacts

import "time"

// Project is a GitLab project as far as artifacts are concerned.
type Project struct {
	// ID is the numeric project id.
	ID int64
	// PathWithNamespace is the full path, e.g. "group/sub/app".
	PathWithNamespace string
	// Visibility is "private", "internal" or "public". The handler does not
	// interpret it; Authorizers do.
	Visibility string
	// PublicPipelines is GitLab's "public pipelines" setting: when true,
	// anyone who can see the project may read its jobs' artifacts.
	PublicPipelines bool
	// CIJobTokenScopeEnabled is GitLab's "limit access to this project"
	// setting for CI/CD job tokens, reported in the Job entity.
	CIJobTokenScopeEnabled bool
	// JobTokenAllowlist lists the ids of projects whose job tokens may read
	// this project's artifacts (GitLab's inbound allowlist). The project
	// itself is always allowed.
	JobTokenAllowlist []int64
	// WebURL is the project's web address; optional.
	WebURL string
}

// Pipeline is the pipeline a job belongs to. Its Ref and Status decide which
// job the by-ref routes serve: the job of that name in the newest pipeline
// of the ref whose Status is "success" (GitLab's rule). The other fields are
// only shown, in the "pipeline" member of the keep route's answer.
type Pipeline struct {
	// ID is the pipeline's id, unique in the instance.
	ID int64
	// IID is the pipeline's number inside its project (GitLab's iid).
	IID int64
	// ProjectID is the id of the project the pipeline ran in.
	ProjectID int64
	// SHA is the full commit SHA the pipeline ran on.
	SHA string
	// Ref is what the pipeline ran for and what the by-ref routes match
	// (…/jobs/artifacts/:ref_name/…): a branch or tag name ("main",
	// "v1.0"), or the ref of a merge request pipeline
	// ("refs/merge-requests/123/head").
	Ref string
	// Status is GitLab's pipeline status: "success", "failed", "running", …
	Status string
	// Source is what started the pipeline: "push", "web", "schedule",
	// "merge_request_event", … Optional.
	Source string
	// CreatedAt is when the pipeline was created. Optional.
	CreatedAt *time.Time
	// UpdatedAt is when the pipeline last changed. Optional.
	UpdatedAt *time.Time
	// WebURL is the pipeline's page. Optional.
	WebURL string
}

// Commit is the commit a job ran on, as GitLab's Job entity shows it. It
// is only shown (the keep route's answer), never interpreted; every field is
// optional.
type Commit struct {
	// ID is the full commit SHA.
	ID string
	// ShortID is the abbreviated SHA, usually its first 8 characters.
	ShortID string
	// Title is the first line of Message.
	Title string
	// Message is the whole commit message.
	Message string
	// AuthorName is the name of the commit's author.
	AuthorName string
	// AuthorEmail is the e-mail address of the commit's author.
	AuthorEmail string
	// AuthoredDate is when the commit was authored.
	AuthoredDate *time.Time
	// CommitterName is the name of the commit's committer.
	CommitterName string
	// CommitterEmail is the e-mail address of the commit's committer.
	CommitterEmail string
	// CommittedDate is when the commit was committed.
	CommittedDate *time.Time
	// CreatedAt is the commit's creation time as GitLab reports it (the
	// authored date).
	CreatedAt *time.Time
	// ParentIDs are the SHAs of the commit's parents.
	ParentIDs []string
	// WebURL is the commit's page.
	WebURL string
}

// User is the user who started a job, as GitLab's Job entity shows it. It is
// only shown (the keep route's answer), never interpreted, and has nothing to
// do with who may read artifacts: that is the Authorizer's business. Every
// field but ID and Username is optional.
type User struct {
	// ID is the user's numeric id.
	ID int64
	// Username is the user's handle, e.g. "alice".
	Username string
	// Name is the user's display name.
	Name string
	// State is the account state: "active", "blocked", …
	State string
	// Locked is true while the account is locked.
	Locked bool
	// AvatarURL is the address of the user's avatar image.
	AvatarURL string
	// WebURL is the user's profile page.
	WebURL string
	// CreatedAt is when the account was created.
	CreatedAt *time.Time
	// Bio is the profile's free text.
	Bio string
	// Location is the profile's location.
	Location string
	// PublicEmail is the e-mail address the user made public.
	PublicEmail string
	// LinkedIn is the profile's LinkedIn name.
	LinkedIn string
	// Twitter is the profile's X (Twitter) handle.
	Twitter string
	// Discord is the profile's Discord id.
	Discord string
	// WebsiteURL is the profile's website.
	WebsiteURL string
	// Organization is the profile's organisation.
	Organization string
	// JobTitle is the profile's job title.
	JobTitle string
	// Pronouns are the profile's pronouns.
	Pronouns string
	// Bot is true for bot users (project and group access tokens' users).
	Bot bool
	// WorkInformation is GitLab's combination of JobTitle and Organization.
	WorkInformation string
	// Followers is how many users follow this one.
	Followers int64
	// Following is how many users this one follows.
	Following int64
	// LocalTime is the user's local time as GitLab formats it, e.g. "3:04 PM".
	LocalTime string
}

// Runner is the runner that ran a job, as GitLab's Job entity shows it. It
// is only shown (the keep route's answer), never interpreted; every field but
// ID is optional.
type Runner struct {
	// ID is the runner's numeric id.
	ID int64
	// Description is the runner's description, set at registration.
	Description string
	// IPAddress is the address the runner last contacted GitLab from.
	IPAddress string
	// Active is the opposite of Paused (GitLab still reports both).
	Active bool
	// Paused is true while the runner takes no new jobs.
	Paused bool
	// IsShared is true for an instance-wide runner.
	IsShared bool
	// RunnerType is "instance_type", "group_type" or "project_type".
	RunnerType string
	// Name is the runner's name.
	Name string
	// Online is true when the runner contacted GitLab recently.
	Online bool
	// Status is "online", "offline", "stale" or "never_contacted".
	Status string
}

// RunnerManager is the runner manager (one gitlab-runner process of a
// runner) that ran a job, as GitLab's Job entity shows it. It is only shown
// (the keep route's answer), never interpreted; every field but ID is
// optional.
type RunnerManager struct {
	// ID is the runner manager's numeric id.
	ID int64
	// SystemID identifies the machine the process runs on, e.g. "s_…".
	SystemID string
	// Version is the gitlab-runner version, e.g. "17.0.0".
	Version string
	// Revision is the gitlab-runner build's commit, e.g. "44feccdf".
	Revision string
	// Platform is the operating system, e.g. "linux".
	Platform string
	// Architecture is the processor architecture, e.g. "amd64".
	Architecture string
	// CreatedAt is when the runner manager first contacted GitLab.
	CreatedAt *time.Time
	// ContactedAt is when the runner manager last contacted GitLab.
	ContactedAt *time.Time
	// IPAddress is the address it last contacted GitLab from.
	IPAddress string
	// Status is "online", "offline", "stale" or "never_contacted".
	Status string
}

// Job is a CI job and the records of its artifacts. The handler looks at
// ID, ProjectID, Pipeline, Status, Name, ErasedAt and the artifact fields;
// the rest is only shown, in the keep route's answer (GitLab's Job entity),
// and may be left empty.
type Job struct {
	// ID is the job's id, unique in the instance (the :job_id of the
	// routes).
	ID int64
	// ProjectID is the id of the project the job ran in. A job is not
	// found through another project's routes.
	ProjectID int64
	// Pipeline is the job's pipeline. Only Pipeline.ID must be set when the
	// job is stored; stores return the pipeline as stored on its own, whose
	// Ref and Status decide what the by-ref routes serve.
	Pipeline Pipeline
	// Status is GitLab's job status: "success", "failed", "running", …
	// Only a running job takes uploads and has a valid job token.
	Status string
	// Stage is the name of the job's stage, e.g. "test".
	Stage string
	// Name is the job's name, what the by-ref routes' ?job= asks for.
	Name string
	// Ref is the job's ref as GitLab's Job entity shows it (member "ref").
	// GitLab sets it to its pipeline's ref, and it is only shown: the by-ref
	// routes match Pipeline.Ref, so the two should agree.
	Ref string
	// Tag is true when Ref is a tag rather than a branch.
	Tag bool
	// Coverage is the test coverage percentage the job reported; nil when
	// none.
	Coverage *float64
	// AllowFailure is the job's allow_failure setting.
	AllowFailure bool
	// CreatedAt is when the job was created.
	CreatedAt *time.Time
	// StartedAt is when a runner started the job; nil before that.
	StartedAt *time.Time
	// FinishedAt is when the job finished; nil while it runs.
	FinishedAt *time.Time
	// ErasedAt is when the job was erased (its log and artifacts removed);
	// nil if never. An erased job takes no uploads.
	ErasedAt *time.Time
	// Duration is how long the job ran, in seconds; nil while unknown.
	Duration *float64
	// QueuedDuration is how long the job waited for a runner, in seconds.
	QueuedDuration *float64
	// User is who started the job; nil when unknown.
	User *User
	// Commit is the commit the job ran on; nil when unknown.
	Commit *Commit
	// WebURL is the job's page.
	WebURL string
	// Runner is the runner that ran the job; nil when none did.
	Runner *Runner
	// RunnerManager is the runner process that ran the job; nil when none
	// did.
	RunnerManager *RunnerManager
	// Archived is true when the job belongs to an archived pipeline.
	Archived bool
	// TagList lists the runner tags the job asked for.
	TagList []string
	// FailureReason is why the job failed, e.g. "script_failure"; it is
	// shown only for failed jobs.
	FailureReason string

	// Artifacts are the job's stored artifacts, at most one per FileType.
	Artifacts []Artifact
	// ArtifactsExpireAt is when the job's artifacts expire; nil = never.
	ArtifactsExpireAt *time.Time
	// ArtifactsLocked is true once the artifacts were kept: they never expire.
	ArtifactsLocked bool
	// ArtifactsAccess narrows who may read the artifacts, as GitLab's
	// artifacts:access keyword: "" or "all" (whoever may read the project's
	// artifacts), "developer" (Developer role or higher), "none" (nobody
	// through the API). Authorizers interpret it.
	ArtifactsAccess string
}

// Artifact is one stored artifact file of a job.
type Artifact struct {
	// FileType is GitLab's artifact type: "archive", "metadata", "junit", …
	FileType string
	// FileFormat is "zip", "gzip" or "raw".
	FileFormat string
	// Filename is the file name shown to clients, e.g. "artifacts.zip".
	Filename string
	// Size is the blob's size in bytes.
	Size int64
	// SHA256 is the hex SHA-256 of the bytes.
	SHA256 string
	// ExpireAt is when this artifact expires; nil = never.
	ExpireAt *time.Time
	// Blob is where the bytes are kept in the BlobStore.
	Blob BlobKey
}

// Archive returns the job's artifact of type "archive" (the zip that the
// download routes serve), if it has one.
func (j *Job) Archive() (Artifact, bool) {
	for _, a := range j.Artifacts {
		if a.FileType == ArtifactTypeArchive {
			return a, true
		}
	}
	return Artifact{}, false
}

// Artifact types the handler treats specially.
const (
	// ArtifactTypeArchive is the FileType of a job's artifacts archive, the
	// zip that the download routes serve.
	ArtifactTypeArchive = "archive"
	// ArtifactTypeTrace is the FileType of a job's log, which deleting a
	// job's artifacts leaves alone.
	ArtifactTypeTrace = "trace"
)

// Job and pipeline statuses that the handler, the stores and the token
// authorizer look at. GitLab has more; stores keep whatever the host sets.
const (
	StatusSuccess = "success"
	StatusRunning = "running"
	StatusFailed  = "failed"
)
