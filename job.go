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

// Pipeline is the pipeline a job belongs to.
type Pipeline struct {
	ID        int64
	IID       int64
	ProjectID int64
	SHA       string
	Ref       string
	// Status is GitLab's pipeline status: "success", "failed", "running", …
	Status    string
	Source    string
	CreatedAt *time.Time
	UpdatedAt *time.Time
	WebURL    string
}

// Commit is the commit a job ran on, as GitLab's Job entity shows it.
type Commit struct {
	ID             string
	ShortID        string
	Title          string
	Message        string
	AuthorName     string
	AuthorEmail    string
	AuthoredDate   *time.Time
	CommitterName  string
	CommitterEmail string
	CommittedDate  *time.Time
	CreatedAt      *time.Time
	ParentIDs      []string
	WebURL         string
}

// User is the user who started a job.
type User struct {
	ID              int64
	Username        string
	Name            string
	State           string
	Locked          bool
	AvatarURL       string
	WebURL          string
	CreatedAt       *time.Time
	Bio             string
	Location        string
	PublicEmail     string
	LinkedIn        string
	Twitter         string
	Discord         string
	WebsiteURL      string
	Organization    string
	JobTitle        string
	Pronouns        string
	Bot             bool
	WorkInformation string
	Followers       int64
	Following       int64
	LocalTime       string
}

// Runner is the runner that ran a job.
type Runner struct {
	ID          int64
	Description string
	IPAddress   string
	Active      bool
	Paused      bool
	IsShared    bool
	RunnerType  string
	Name        string
	Online      bool
	Status      string
}

// RunnerManager is the runner manager (runner process) that ran a job.
type RunnerManager struct {
	ID           int64
	SystemID     string
	Version      string
	Revision     string
	Platform     string
	Architecture string
	CreatedAt    *time.Time
	ContactedAt  *time.Time
	IPAddress    string
	Status       string
}

// Job is a CI job and the records of its artifacts.
type Job struct {
	ID        int64
	ProjectID int64
	// Pipeline is the job's pipeline; Pipeline.ID must be set.
	Pipeline Pipeline
	// Status is GitLab's job status: "success", "failed", "running", …
	Status         string
	Stage          string
	Name           string
	Ref            string
	Tag            bool
	Coverage       *float64
	AllowFailure   bool
	CreatedAt      *time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
	ErasedAt       *time.Time
	Duration       *float64
	QueuedDuration *float64
	User           *User
	Commit         *Commit
	WebURL         string
	Runner         *Runner
	RunnerManager  *RunnerManager
	Archived       bool
	TagList        []string
	// FailureReason is shown only for failed jobs.
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
