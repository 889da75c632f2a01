package jobartifacts

import (
	"encoding/json"
	"time"
)

// This file renders GitLab's API::Entities::Ci::Job, the body of the keep
// route. Every member is present, in GitLab's order, with null where the
// value is unknown; only failure_reason and artifacts_file are conditional,
// as in GitLab.

// apiTime is a time as GitLab's API writes it: RFC 3339, UTC, milliseconds.
type apiTime struct{ t *time.Time }

const apiTimeLayout = "2006-01-02T15:04:05.000Z"

func (a apiTime) MarshalJSON() ([]byte, error) {
	if a.t == nil || a.t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(a.t.UTC().Format(apiTimeLayout))
}

// nullString renders "" as null: GitLab has no empty strings where a value
// is merely unknown.
type nullString string

func (s nullString) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(s))
}

type jobEntity struct {
	ID             int64           `json:"id"`
	Status         string          `json:"status"`
	Stage          nullString      `json:"stage"`
	Name           string          `json:"name"`
	Ref            nullString      `json:"ref"`
	Tag            bool            `json:"tag"`
	Coverage       *float64        `json:"coverage"`
	AllowFailure   bool            `json:"allow_failure"`
	CreatedAt      apiTime         `json:"created_at"`
	StartedAt      apiTime         `json:"started_at"`
	FinishedAt     apiTime         `json:"finished_at"`
	ErasedAt       apiTime         `json:"erased_at"`
	Duration       *float64        `json:"duration"`
	QueuedDuration *float64        `json:"queued_duration"`
	User           *userEntity     `json:"user"`
	Commit         *commitEntity   `json:"commit"`
	Pipeline       pipelineEntity  `json:"pipeline"`
	FailureReason  *string         `json:"failure_reason,omitempty"`
	WebURL         nullString      `json:"web_url"`
	Project        projectOfJob    `json:"project"`
	ArtifactsFile  *artifactsFile  `json:"artifacts_file,omitempty"`
	Artifacts      []artifactEntry `json:"artifacts"`
	Runner         *runnerEntity   `json:"runner"`
	RunnerManager  *runnerManager  `json:"runner_manager"`
	ArtifactsExpAt apiTime         `json:"artifacts_expire_at"`
	Archived       bool            `json:"archived"`
	TagList        []string        `json:"tag_list"`
}

type projectOfJob struct {
	CIJobTokenScopeEnabled bool `json:"ci_job_token_scope_enabled"`
}

type artifactsFile struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

type artifactEntry struct {
	FileType   string     `json:"file_type"`
	Size       int64      `json:"size"`
	Filename   string     `json:"filename"`
	FileFormat nullString `json:"file_format"`
}

type pipelineEntity struct {
	ID        int64      `json:"id"`
	IID       int64      `json:"iid"`
	ProjectID int64      `json:"project_id"`
	SHA       nullString `json:"sha"`
	Ref       nullString `json:"ref"`
	Status    nullString `json:"status"`
	Source    nullString `json:"source"`
	CreatedAt apiTime    `json:"created_at"`
	UpdatedAt apiTime    `json:"updated_at"`
	WebURL    nullString `json:"web_url"`
}

type commitEntity struct {
	ID             string     `json:"id"`
	ShortID        string     `json:"short_id"`
	CreatedAt      apiTime    `json:"created_at"`
	ParentIDs      []string   `json:"parent_ids"`
	Title          nullString `json:"title"`
	Message        nullString `json:"message"`
	AuthorName     nullString `json:"author_name"`
	AuthorEmail    nullString `json:"author_email"`
	AuthoredDate   apiTime    `json:"authored_date"`
	CommitterName  nullString `json:"committer_name"`
	CommitterEmail nullString `json:"committer_email"`
	CommittedDate  apiTime    `json:"committed_date"`
	WebURL         nullString `json:"web_url"`
}

type userEntity struct {
	ID              int64      `json:"id"`
	Username        string     `json:"username"`
	Name            string     `json:"name"`
	State           nullString `json:"state"`
	Locked          bool       `json:"locked"`
	AvatarURL       nullString `json:"avatar_url"`
	WebURL          nullString `json:"web_url"`
	CreatedAt       apiTime    `json:"created_at"`
	Bio             string     `json:"bio"`
	Location        string     `json:"location"`
	PublicEmail     nullString `json:"public_email"`
	LinkedIn        string     `json:"linkedin"`
	Twitter         string     `json:"twitter"`
	Discord         string     `json:"discord"`
	WebsiteURL      string     `json:"website_url"`
	Organization    string     `json:"organization"`
	JobTitle        string     `json:"job_title"`
	Pronouns        nullString `json:"pronouns"`
	Bot             bool       `json:"bot"`
	WorkInformation nullString `json:"work_information"`
	Followers       int64      `json:"followers"`
	Following       int64      `json:"following"`
	LocalTime       nullString `json:"local_time"`
}

type runnerEntity struct {
	ID          int64      `json:"id"`
	Description nullString `json:"description"`
	IPAddress   nullString `json:"ip_address"`
	Active      bool       `json:"active"`
	Paused      bool       `json:"paused"`
	IsShared    bool       `json:"is_shared"`
	RunnerType  nullString `json:"runner_type"`
	Name        nullString `json:"name"`
	Online      bool       `json:"online"`
	Status      nullString `json:"status"`
}

type runnerManager struct {
	ID           int64      `json:"id"`
	SystemID     nullString `json:"system_id"`
	Version      nullString `json:"version"`
	Revision     nullString `json:"revision"`
	Platform     nullString `json:"platform"`
	Architecture nullString `json:"architecture"`
	CreatedAt    apiTime    `json:"created_at"`
	ContactedAt  apiTime    `json:"contacted_at"`
	IPAddress    nullString `json:"ip_address"`
	Status       nullString `json:"status"`
}

// newJobEntity builds the Job entity for j of project p. now decides whether
// the archive has expired, which hides artifacts_file as GitLab does.
func newJobEntity(p *Project, j *Job, now time.Time) jobEntity {
	e := jobEntity{
		ID:             j.ID,
		Status:         j.Status,
		Stage:          nullString(j.Stage),
		Name:           j.Name,
		Ref:            nullString(j.Ref),
		Tag:            j.Tag,
		Coverage:       j.Coverage,
		AllowFailure:   j.AllowFailure,
		CreatedAt:      apiTime{j.CreatedAt},
		StartedAt:      apiTime{j.StartedAt},
		FinishedAt:     apiTime{j.FinishedAt},
		ErasedAt:       apiTime{j.ErasedAt},
		Duration:       j.Duration,
		QueuedDuration: j.QueuedDuration,
		Pipeline: pipelineEntity{
			ID: j.Pipeline.ID, IID: j.Pipeline.IID, ProjectID: j.Pipeline.ProjectID,
			SHA: nullString(j.Pipeline.SHA), Ref: nullString(j.Pipeline.Ref),
			Status: nullString(j.Pipeline.Status), Source: nullString(j.Pipeline.Source),
			CreatedAt: apiTime{j.Pipeline.CreatedAt}, UpdatedAt: apiTime{j.Pipeline.UpdatedAt},
			WebURL: nullString(j.Pipeline.WebURL),
		},
		WebURL:         nullString(j.WebURL),
		Project:        projectOfJob{CIJobTokenScopeEnabled: p.CIJobTokenScopeEnabled},
		Artifacts:      []artifactEntry{},
		ArtifactsExpAt: apiTime{j.ArtifactsExpireAt},
		Archived:       j.Archived,
		TagList:        append([]string{}, j.TagList...),
	}
	if e.Pipeline.ProjectID == 0 {
		e.Pipeline.ProjectID = j.ProjectID
	}
	if j.Status == StatusFailed {
		reason := j.FailureReason
		if reason == "" {
			reason = "unknown_failure"
		}
		e.FailureReason = &reason
	}
	if a, ok := j.Archive(); ok && !artifactExpired(j, a, now) {
		e.ArtifactsFile = &artifactsFile{Filename: a.Filename, Size: a.Size}
	}
	for _, a := range j.Artifacts {
		e.Artifacts = append(e.Artifacts, artifactEntry{FileType: a.FileType, Size: a.Size, Filename: a.Filename, FileFormat: nullString(a.FileFormat)})
	}
	if u := j.User; u != nil {
		e.User = &userEntity{
			ID: u.ID, Username: u.Username, Name: u.Name, State: nullString(u.State), Locked: u.Locked,
			AvatarURL: nullString(u.AvatarURL), WebURL: nullString(u.WebURL), CreatedAt: apiTime{u.CreatedAt},
			Bio: u.Bio, Location: u.Location, PublicEmail: nullString(u.PublicEmail), LinkedIn: u.LinkedIn,
			Twitter: u.Twitter, Discord: u.Discord, WebsiteURL: u.WebsiteURL, Organization: u.Organization,
			JobTitle: u.JobTitle, Pronouns: nullString(u.Pronouns), Bot: u.Bot,
			WorkInformation: nullString(u.WorkInformation), Followers: u.Followers, Following: u.Following,
			LocalTime: nullString(u.LocalTime),
		}
	}
	if c := j.Commit; c != nil {
		e.Commit = &commitEntity{
			ID: c.ID, ShortID: c.ShortID, CreatedAt: apiTime{c.CreatedAt}, ParentIDs: append([]string{}, c.ParentIDs...),
			Title: nullString(c.Title), Message: nullString(c.Message), AuthorName: nullString(c.AuthorName),
			AuthorEmail: nullString(c.AuthorEmail), AuthoredDate: apiTime{c.AuthoredDate},
			CommitterName: nullString(c.CommitterName), CommitterEmail: nullString(c.CommitterEmail),
			CommittedDate: apiTime{c.CommittedDate}, WebURL: nullString(c.WebURL),
		}
		if e.Commit.ShortID == "" && len(c.ID) >= 8 {
			e.Commit.ShortID = c.ID[:8]
		}
	}
	if r := j.Runner; r != nil {
		e.Runner = &runnerEntity{
			ID: r.ID, Description: nullString(r.Description), IPAddress: nullString(r.IPAddress), Active: r.Active,
			Paused: r.Paused, IsShared: r.IsShared, RunnerType: nullString(r.RunnerType), Name: nullString(r.Name),
			Online: r.Online, Status: nullString(r.Status),
		}
	}
	if m := j.RunnerManager; m != nil {
		e.RunnerManager = &runnerManager{
			ID: m.ID, SystemID: nullString(m.SystemID), Version: nullString(m.Version), Revision: nullString(m.Revision),
			Platform: nullString(m.Platform), Architecture: nullString(m.Architecture), CreatedAt: apiTime{m.CreatedAt},
			ContactedAt: apiTime{m.ContactedAt}, IPAddress: nullString(m.IPAddress), Status: nullString(m.Status),
		}
	}
	return e
}

// artifactExpired reports whether artifact a of job j has expired at now.
// Kept (locked) artifacts never expire.
func artifactExpired(j *Job, a Artifact, now time.Time) bool {
	if j.ArtifactsLocked {
		return false
	}
	exp := a.ExpireAt
	if exp == nil {
		exp = j.ArtifactsExpireAt
	}
	return exp != nil && !exp.After(now)
}
