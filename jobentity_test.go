package jobartifacts

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJobEntityJSON checks the Job entity's JSON for jobs with little set:
// every member present with null where unknown, [] for lists, failure_reason
// only for failed jobs, artifacts_file only while the archive is available.
func TestJobEntityJSON(t *testing.T) {
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	archive := Artifact{FileType: ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip", Size: 321}

	// The members every case shares, around the parts that differ.
	const head = `{"id":7,"status":"%s","stage":null,"name":"","ref":null,"tag":false,"coverage":null,"allow_failure":false,` +
		`"created_at":null,"started_at":null,"finished_at":null,"erased_at":null,"duration":null,"queued_duration":null,` +
		`"user":null,"commit":null,` +
		`"pipeline":{"id":3,"iid":0,"project_id":9,"sha":null,"ref":null,"status":null,"source":null,"created_at":null,"updated_at":null,"web_url":null},`
	cases := []struct {
		name    string
		project Project
		job     Job
		want    string
	}{
		{
			name: "zero-ish job",
			job:  Job{ID: 7, ProjectID: 9, Pipeline: Pipeline{ID: 3}, Status: "created"},
			want: fmt.Sprintf(head, "created") + `"web_url":null,"project":{"ci_job_token_scope_enabled":false},"artifacts":[],` +
				`"runner":null,"runner_manager":null,"artifacts_expire_at":null,"archived":false,"tag_list":[]}`,
		},
		{
			name: "failed without a reason",
			job:  Job{ID: 7, ProjectID: 9, Pipeline: Pipeline{ID: 3}, Status: StatusFailed},
			want: fmt.Sprintf(head, "failed") + `"failure_reason":"unknown_failure","web_url":null,"project":{"ci_job_token_scope_enabled":false},"artifacts":[],` +
				`"runner":null,"runner_manager":null,"artifacts_expire_at":null,"archived":false,"tag_list":[]}`,
		},
		{
			name: "failure_reason of a successful job is not shown",
			job:  Job{ID: 7, ProjectID: 9, Pipeline: Pipeline{ID: 3}, Status: StatusSuccess, FailureReason: "script_failure"},
			want: fmt.Sprintf(head, "success") + `"web_url":null,"project":{"ci_job_token_scope_enabled":false},"artifacts":[],` +
				`"runner":null,"runner_manager":null,"artifacts_expire_at":null,"archived":false,"tag_list":[]}`,
		},
		{
			name:    "archive available",
			project: Project{CIJobTokenScopeEnabled: true},
			job: Job{ID: 7, ProjectID: 9, Pipeline: Pipeline{ID: 3}, Status: StatusSuccess, Artifacts: []Artifact{archive},
				ArtifactsExpireAt: &future, TagList: []string{"linux"}},
			want: fmt.Sprintf(head, "success") + `"web_url":null,"project":{"ci_job_token_scope_enabled":true},` +
				`"artifacts_file":{"filename":"artifacts.zip","size":321},` +
				`"artifacts":[{"file_type":"archive","size":321,"filename":"artifacts.zip","file_format":"zip"}],` +
				`"runner":null,"runner_manager":null,"artifacts_expire_at":"2024-06-01T12:01:00.000Z","archived":false,"tag_list":["linux"]}`,
		},
		{
			name: "archive expired: artifacts_file hidden, artifacts listed",
			job: Job{ID: 7, ProjectID: 9, Pipeline: Pipeline{ID: 3}, Status: StatusSuccess, Artifacts: []Artifact{archive},
				ArtifactsExpireAt: &past},
			want: fmt.Sprintf(head, "success") + `"web_url":null,"project":{"ci_job_token_scope_enabled":false},` +
				`"artifacts":[{"file_type":"archive","size":321,"filename":"artifacts.zip","file_format":"zip"}],` +
				`"runner":null,"runner_manager":null,"artifacts_expire_at":"2024-06-01T11:59:00.000Z","archived":false,"tag_list":[]}`,
		},
		{
			name: "archive expiring exactly now is expired",
			job: Job{ID: 7, ProjectID: 9, Pipeline: Pipeline{ID: 3}, Status: StatusSuccess,
				Artifacts: []Artifact{{FileType: ArtifactTypeArchive, Filename: "a.zip", Size: 1, ExpireAt: &now}}},
			want: fmt.Sprintf(head, "success") + `"web_url":null,"project":{"ci_job_token_scope_enabled":false},` +
				`"artifacts":[{"file_type":"archive","size":1,"filename":"a.zip","file_format":null}],` +
				`"runner":null,"runner_manager":null,"artifacts_expire_at":null,"archived":false,"tag_list":[]}`,
		},
		{
			name: "expired but kept",
			job: Job{ID: 7, ProjectID: 9, Pipeline: Pipeline{ID: 3}, Status: StatusSuccess, ArtifactsLocked: true,
				Artifacts: []Artifact{{FileType: ArtifactTypeArchive, Filename: "a.zip", Size: 1, ExpireAt: &past}}},
			want: fmt.Sprintf(head, "success") + `"web_url":null,"project":{"ci_job_token_scope_enabled":false},` +
				`"artifacts_file":{"filename":"a.zip","size":1},` +
				`"artifacts":[{"file_type":"archive","size":1,"filename":"a.zip","file_format":null}],` +
				`"runner":null,"runner_manager":null,"artifacts_expire_at":null,"archived":false,"tag_list":[]}`,
		},
		{
			name: "only a log: no artifacts_file",
			job: Job{ID: 7, ProjectID: 9, Pipeline: Pipeline{ID: 3}, Status: StatusSuccess, Archived: true,
				Artifacts: []Artifact{{FileType: ArtifactTypeTrace, FileFormat: "raw", Filename: "job.log", Size: 4}}},
			want: fmt.Sprintf(head, "success") + `"web_url":null,"project":{"ci_job_token_scope_enabled":false},` +
				`"artifacts":[{"file_type":"trace","size":4,"filename":"job.log","file_format":"raw"}],` +
				`"runner":null,"runner_manager":null,"artifacts_expire_at":null,"archived":true,"tag_list":[]}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(newJobEntity(&tc.project, &tc.job, now))
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

// TestJobEntityNestedZeroValues: present-but-empty user, commit, runner and
// runner manager render their unknown members as null, a zero time as null,
// and an empty parent list as [].
func TestJobEntityNestedZeroValues(t *testing.T) {
	var zero time.Time
	job := Job{ID: 1, ProjectID: 2, Pipeline: Pipeline{ID: 3, ProjectID: 2}, Status: "running", CreatedAt: &zero,
		User: &User{ID: 5, Username: "u", Name: "U"}, Commit: &Commit{ID: "1a0b36b3cdad1d2ee32457c102a8c0b7056fa863"}, Runner: &Runner{ID: 6}, RunnerManager: &RunnerManager{ID: 8}}
	got, err := json.Marshal(newJobEntity(&Project{}, &job, time.Now()))
	require.NoError(t, err)

	var doc map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(got, &doc))
	assert.Equal(t, "null", string(doc["created_at"]))
	assert.JSONEq(t, `{"id":5,"username":"u","name":"U","state":null,"locked":false,"avatar_url":null,"web_url":null,"created_at":null,`+
		`"bio":"","location":"","public_email":null,"linkedin":"","twitter":"","discord":"","website_url":"","organization":"","job_title":"",`+
		`"pronouns":null,"bot":false,"work_information":null,"followers":0,"following":0,"local_time":null}`, string(doc["user"]))
	assert.JSONEq(t, `{"id":"1a0b36b3cdad1d2ee32457c102a8c0b7056fa863","short_id":"1a0b36b3","created_at":null,"parent_ids":[],"title":null,"message":null,"author_name":null,`+
		`"author_email":null,"authored_date":null,"committer_name":null,"committer_email":null,"committed_date":null,"web_url":null}`, string(doc["commit"]))
	assert.JSONEq(t, `{"id":6,"description":null,"ip_address":null,"active":false,"paused":false,"is_shared":false,"runner_type":null,`+
		`"name":null,"online":false,"status":null}`, string(doc["runner"]))
	assert.JSONEq(t, `{"id":8,"system_id":null,"version":null,"revision":null,"platform":null,"architecture":null,"created_at":null,`+
		`"contacted_at":null,"ip_address":null,"status":null}`, string(doc["runner_manager"]))
	assert.Equal(t, `{"id":3,"iid":0,"project_id":2,"sha":null,"ref":null,"status":null,"source":null,"created_at":null,"updated_at":null,"web_url":null}`,
		string(doc["pipeline"]))
}
