package pgstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ciartifacts/jobartifacts"
)

// The doc columns hold what no query looks at, as JSON. Times in them are
// RFC 3339 in UTC, with nanoseconds; the timestamptz columns keep
// microseconds.

type projectDoc struct {
	Visibility             string  `json:"visibility,omitempty"`
	PublicPipelines        bool    `json:"public_pipelines,omitempty"`
	CIJobTokenScopeEnabled bool    `json:"ci_job_token_scope_enabled,omitempty"`
	JobTokenAllowlist      []int64 `json:"job_token_allowlist,omitempty"`
	WebURL                 string  `json:"web_url,omitempty"`
}

type pipelineDoc struct {
	IID       int64      `json:"iid,omitempty"`
	SHA       string     `json:"sha,omitempty"`
	Source    string     `json:"source,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	WebURL    string     `json:"web_url,omitempty"`
}

// jobDoc is the presentation graph of a job. User, Commit, Runner and
// RunnerManager are stored with their Go field names.
type jobDoc struct {
	Stage           string                      `json:"stage,omitempty"`
	Ref             string                      `json:"ref,omitempty"`
	Tag             bool                        `json:"tag,omitempty"`
	Coverage        *float64                    `json:"coverage,omitempty"`
	AllowFailure    bool                        `json:"allow_failure,omitempty"`
	CreatedAt       *time.Time                  `json:"created_at,omitempty"`
	StartedAt       *time.Time                  `json:"started_at,omitempty"`
	FinishedAt      *time.Time                  `json:"finished_at,omitempty"`
	ErasedAt        *time.Time                  `json:"erased_at,omitempty"`
	Duration        *float64                    `json:"duration,omitempty"`
	QueuedDuration  *float64                    `json:"queued_duration,omitempty"`
	User            *jobartifacts.User          `json:"user,omitempty"`
	Commit          *jobartifacts.Commit        `json:"commit,omitempty"`
	WebURL          string                      `json:"web_url,omitempty"`
	Runner          *jobartifacts.Runner        `json:"runner,omitempty"`
	RunnerManager   *jobartifacts.RunnerManager `json:"runner_manager,omitempty"`
	Archived        bool                        `json:"archived,omitempty"`
	TagList         []string                    `json:"tag_list,omitempty"`
	FailureReason   string                      `json:"failure_reason,omitempty"`
	ArtifactsAccess string                      `json:"artifacts_access,omitempty"`
}

// artifactDoc is one record as selectJob aggregates it.
type artifactDoc struct {
	FileType   string `json:"file_type"`
	FileFormat string `json:"file_format"`
	Filename   string `json:"filename"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	Blob       string `json:"blob"`
	ExpireAtUS *int64 `json:"expire_at_us"`
}

func encodeProject(p jobartifacts.Project) ([]byte, error) {
	return json.Marshal(projectDoc{
		Visibility:             p.Visibility,
		PublicPipelines:        p.PublicPipelines,
		CIJobTokenScopeEnabled: p.CIJobTokenScopeEnabled,
		JobTokenAllowlist:      p.JobTokenAllowlist,
		WebURL:                 p.WebURL,
	})
}

func encodePipeline(p jobartifacts.Pipeline) ([]byte, error) {
	return json.Marshal(pipelineDoc{
		IID:       p.IID,
		SHA:       p.SHA,
		Source:    p.Source,
		CreatedAt: utc(p.CreatedAt),
		UpdatedAt: utc(p.UpdatedAt),
		WebURL:    p.WebURL,
	})
}

func encodeJob(j jobartifacts.Job) ([]byte, error) {
	d := jobDoc{
		Stage:           j.Stage,
		Ref:             j.Ref,
		Tag:             j.Tag,
		Coverage:        j.Coverage,
		AllowFailure:    j.AllowFailure,
		CreatedAt:       utc(j.CreatedAt),
		StartedAt:       utc(j.StartedAt),
		FinishedAt:      utc(j.FinishedAt),
		ErasedAt:        utc(j.ErasedAt),
		Duration:        j.Duration,
		QueuedDuration:  j.QueuedDuration,
		WebURL:          j.WebURL,
		Runner:          j.Runner,
		Archived:        j.Archived,
		TagList:         j.TagList,
		FailureReason:   j.FailureReason,
		ArtifactsAccess: j.ArtifactsAccess,
	}
	if j.User != nil {
		u := *j.User
		u.CreatedAt = utc(u.CreatedAt)
		d.User = &u
	}
	if j.Commit != nil {
		c := *j.Commit
		c.AuthoredDate, c.CommittedDate, c.CreatedAt = utc(c.AuthoredDate), utc(c.CommittedDate), utc(c.CreatedAt)
		d.Commit = &c
	}
	if j.RunnerManager != nil {
		m := *j.RunnerManager
		m.CreatedAt, m.ContactedAt = utc(m.CreatedAt), utc(m.ContactedAt)
		d.RunnerManager = &m
	}
	return json.Marshal(d)
}

// scanProject decodes a row of (id, path, doc).
func scanProject(row pgx.Row) (*jobartifacts.Project, error) {
	var (
		p   jobartifacts.Project
		doc []byte
	)
	if err := row.Scan(&p.ID, &p.PathWithNamespace, &doc); err != nil {
		return nil, err
	}
	var d projectDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("project %d: decode doc: %w", p.ID, err)
	}
	p.Visibility = d.Visibility
	p.PublicPipelines = d.PublicPipelines
	p.CIJobTokenScopeEnabled = d.CIJobTokenScopeEnabled
	p.JobTokenAllowlist = d.JobTokenAllowlist
	p.WebURL = d.WebURL
	return &p, nil
}

// scanJob decodes a row of selectJob.
func scanJob(row pgx.Row) (*jobartifacts.Job, error) {
	var (
		j                jobartifacts.Job
		p                jobartifacts.Pipeline
		expire           *time.Time
		jdoc, pdoc, arts []byte
	)
	if err := row.Scan(&j.ID, &j.ProjectID, &j.Name, &j.Status, &expire, &j.ArtifactsLocked, &jdoc,
		&p.ID, &p.ProjectID, &p.Ref, &p.Status, &pdoc, &arts); err != nil {
		return nil, err
	}
	j.ArtifactsExpireAt = utc(expire)

	var pd pipelineDoc
	if err := json.Unmarshal(pdoc, &pd); err != nil {
		return nil, fmt.Errorf("pipeline %d: decode doc: %w", p.ID, err)
	}
	p.IID, p.SHA, p.Source, p.CreatedAt, p.UpdatedAt, p.WebURL = pd.IID, pd.SHA, pd.Source, pd.CreatedAt, pd.UpdatedAt, pd.WebURL
	j.Pipeline = p

	var d jobDoc
	if err := json.Unmarshal(jdoc, &d); err != nil {
		return nil, fmt.Errorf("job %d: decode doc: %w", j.ID, err)
	}
	j.Stage, j.Ref, j.Tag, j.Coverage, j.AllowFailure = d.Stage, d.Ref, d.Tag, d.Coverage, d.AllowFailure
	j.CreatedAt, j.StartedAt, j.FinishedAt, j.ErasedAt = d.CreatedAt, d.StartedAt, d.FinishedAt, d.ErasedAt
	j.Duration, j.QueuedDuration = d.Duration, d.QueuedDuration
	j.User, j.Commit, j.WebURL, j.Runner, j.RunnerManager = d.User, d.Commit, d.WebURL, d.Runner, d.RunnerManager
	j.Archived, j.TagList, j.FailureReason, j.ArtifactsAccess = d.Archived, d.TagList, d.FailureReason, d.ArtifactsAccess

	if arts != nil {
		var as []artifactDoc
		if err := json.Unmarshal(arts, &as); err != nil {
			return nil, fmt.Errorf("job %d: decode artifacts: %w", j.ID, err)
		}
		j.Artifacts = make([]jobartifacts.Artifact, len(as))
		for i, a := range as {
			j.Artifacts[i] = jobartifacts.Artifact{
				FileType:   a.FileType,
				FileFormat: a.FileFormat,
				Filename:   a.Filename,
				Size:       a.Size,
				SHA256:     a.SHA256,
				Blob:       jobartifacts.BlobKey(a.Blob),
			}
			if a.ExpireAtUS != nil {
				t := time.UnixMicro(*a.ExpireAtUS).UTC()
				j.Artifacts[i].ExpireAt = &t
			}
		}
	}
	return &j, nil
}

// artifactColumns scans (file_type, file_format, filename, size, sha256,
// expire_at, blob_key) into a.
func artifactColumns(a *jobartifacts.Artifact, expire **time.Time) []any {
	return []any{&a.FileType, &a.FileFormat, &a.Filename, &a.Size, &a.SHA256, expire, &a.Blob}
}

// artifactArgs are the values of createArtifact, upsertArtifact and
// insertArtifact.
func artifactArgs(jobID int64, a jobartifacts.Artifact, jobLocked bool) []any {
	return []any{jobID, a.FileType, a.FileFormat, a.Filename, a.Size, a.SHA256, a.ExpireAt, string(a.Blob), jobLocked}
}

// utc returns a copy of t in UTC, or nil.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
