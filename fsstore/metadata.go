package fsstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/ciartifacts/jobartifacts"
)

// recentPipelineWindow is how many of the newest successful pipelines
// RecentSuccessfulJob searches, as GitLab's search_recent_successful_pipelines.
const recentPipelineWindow = 100

func isNotFound(err error) bool { return errors.Is(err, jobartifacts.ErrNotFound) }

func errNotFound(format string, args ...any) error {
	return fmt.Errorf("fsstore: "+format+": %w", append(args, jobartifacts.ErrNotFound)...)
}

// PutProject creates or replaces a project. A path already used by another
// project is ErrConflict.
func (s *Store) PutProject(ctx context.Context, p jobartifacts.Project) error {
	return s.write(ctx, func() error {
		owner, ok, err := s.readPathIndex(p.PathWithNamespace)
		if err != nil {
			return err
		}
		if ok && owner != p.ID {
			other, err := s.loadProject(owner)
			if err == nil && other.PathWithNamespace == p.PathWithNamespace {
				return fmt.Errorf("fsstore: project %d: path %q belongs to project %d: %w", p.ID, p.PathWithNamespace, owner, jobartifacts.ErrConflict)
			}
			if err != nil && !isNotFound(err) {
				return err
			}
		}
		old, err := s.loadProject(p.ID)
		if err != nil && !isNotFound(err) {
			return err
		}
		if !ok || owner != p.ID {
			if err := s.writeFile(s.pathFile(p.PathWithNamespace), []byte(id(p.ID)+"\n")); err != nil {
				return err
			}
		}
		if err := s.writeJSON(s.projectFile(p.ID), p); err != nil {
			return err
		}
		if old != nil && old.PathWithNamespace != p.PathWithNamespace {
			return s.dropPathIndex(old.PathWithNamespace, p.ID)
		}
		return nil
	})
}

// dropPathIndex removes path's index entry if it still names projectID.
func (s *Store) dropPathIndex(path string, projectID int64) error {
	owner, ok, err := s.readPathIndex(path)
	if err != nil || !ok || owner != projectID {
		return err
	}
	if err := s.removeFile(s.pathFile(path)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("fsstore: %w", err)
	}
	return nil
}

// PutPipeline creates or replaces a pipeline. Its project must exist
// (ErrNotFound otherwise). Pipelines are kept per project: a pipeline is
// found by its project's id and its own.
func (s *Store) PutPipeline(ctx context.Context, p jobartifacts.Pipeline) error {
	return s.write(ctx, func() error {
		if _, err := s.loadProject(p.ProjectID); err != nil {
			return fmt.Errorf("fsstore: pipeline %d: %w", p.ID, err)
		}
		old, err := s.loadPipeline(p.ProjectID, p.ID)
		if err != nil && !isNotFound(err) {
			return err
		}
		if p.Status == jobartifacts.StatusSuccess {
			if err := s.addSuccessfulPipeline(p.ProjectID, p.Ref, p.ID); err != nil {
				return err
			}
		}
		if err := s.writeJSON(s.pipelineFile(p.ProjectID, p.ID), p); err != nil {
			return err
		}
		if old != nil && old.Status == jobartifacts.StatusSuccess &&
			(p.Status != jobartifacts.StatusSuccess || old.Ref != p.Ref) {
			return s.removeSuccessfulPipeline(p.ProjectID, old.Ref, p.ID)
		}
		return nil
	})
}

// PutJob creates or replaces a job. Its project and its pipeline
// (j.Pipeline.ID, in the same project) must exist (ErrNotFound otherwise).
// Only j.Pipeline.ID is kept: jobs read back carry the pipeline as last
// stored with PutPipeline. j.Artifacts are recorded as given; their blobs
// are the caller's business, and records that PutJob replaces queue
// nothing.
func (s *Store) PutJob(ctx context.Context, j jobartifacts.Job) error {
	return s.PutJobs(ctx, j)
}

// PutJobs is PutJob for many jobs at once, for imports: it holds the lock
// once and writes each pipeline's job index once rather than once per job.
// Every job file is still written and synced on its own. If a job is
// refused, none is stored.
func (s *Store) PutJobs(ctx context.Context, jobs ...jobartifacts.Job) error {
	type indexKey struct{ projectID, pipelineID int64 }
	type indexEntry struct {
		name  string
		jobID int64
	}
	return s.write(ctx, func() error {
		projects := map[int64]bool{}
		pipelines := map[indexKey]bool{}
		additions := map[indexKey][]indexEntry{}
		removals := map[indexKey][]indexEntry{}
		for _, j := range jobs {
			if !projects[j.ProjectID] {
				if _, err := s.loadProject(j.ProjectID); err != nil {
					return fmt.Errorf("fsstore: job %d: %w", j.ID, err)
				}
				projects[j.ProjectID] = true
			}
			at := indexKey{j.ProjectID, j.Pipeline.ID}
			if !pipelines[at] {
				if _, err := s.loadPipeline(j.ProjectID, j.Pipeline.ID); err != nil {
					return fmt.Errorf("fsstore: job %d: %w", j.ID, err)
				}
				pipelines[at] = true
			}
			additions[at] = append(additions[at], indexEntry{j.Name, j.ID})
			old, err := s.loadJob(j.ID)
			if err != nil && !isNotFound(err) {
				return err
			}
			if old != nil && (old.ProjectID != j.ProjectID || old.Pipeline.ID != j.Pipeline.ID || old.Name != j.Name) {
				from := indexKey{old.ProjectID, old.Pipeline.ID}
				removals[from] = append(removals[from], indexEntry{old.Name, j.ID})
			}
		}
		// Index entries go in before the records and out after them, so
		// that a crash leaves only entries that lookups check and skip.
		for at, entries := range additions {
			err := s.changePipelineJobs(at.projectID, at.pipelineID, func(index pipelineJobs) {
				for _, e := range entries {
					index[e.name], _ = addID(index[e.name], e.jobID)
				}
			})
			if err != nil {
				return err
			}
		}
		for _, j := range jobs {
			j.Pipeline = jobartifacts.Pipeline{ID: j.Pipeline.ID}
			if err := s.writeJSON(s.jobFile(j.ID), j); err != nil {
				return err
			}
		}
		for from, entries := range removals {
			err := s.changePipelineJobs(from.projectID, from.pipelineID, func(index pipelineJobs) {
				for _, e := range entries {
					if ids, _ := removeID(index[e.name], e.jobID); len(ids) > 0 {
						index[e.name] = ids
					} else {
						delete(index, e.name)
					}
				}
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) loadProject(projectID int64) (*jobartifacts.Project, error) {
	var p jobartifacts.Project
	if err := readJSON(s.projectFile(projectID), "project "+id(projectID), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (s *Store) loadPipeline(projectID, pipelineID int64) (*jobartifacts.Pipeline, error) {
	var p jobartifacts.Pipeline
	if err := readJSON(s.pipelineFile(projectID, pipelineID), "pipeline "+id(pipelineID)+" of project "+id(projectID), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// loadJob returns the job as stored: its Pipeline holds only the id.
func (s *Store) loadJob(jobID int64) (*jobartifacts.Job, error) {
	var j jobartifacts.Job
	if err := readJSON(s.jobFile(jobID), "job "+id(jobID), &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// withPipeline returns a copy of a stored job with its pipeline as last
// stored.
func (v metaView) withPipeline(j *jobartifacts.Job) (*jobartifacts.Job, error) {
	p, err := v.pipeline(j.ProjectID, j.Pipeline.ID)
	if err != nil {
		return nil, err
	}
	return copyJob(j, p), nil
}

// projectJob returns job jobID if it belongs to projectID, as stored and
// to read only.
func (v metaView) projectJob(projectID, jobID int64) (*jobartifacts.Job, error) {
	j, err := v.job(jobID)
	if err != nil {
		return nil, err
	}
	return jobOfProject(j, projectID)
}

// jobOfProject returns j if it belongs to projectID, else ErrNotFound.
func jobOfProject(j *jobartifacts.Job, projectID int64) (*jobartifacts.Job, error) {
	if j.ProjectID != projectID {
		return nil, errNotFound("job %d of project %d", j.ID, projectID)
	}
	return j, nil
}

// Project returns the project with the given id, or ErrNotFound.
func (s *Store) Project(ctx context.Context, projectID int64) (*jobartifacts.Project, error) {
	var p *jobartifacts.Project
	err := s.view(ctx, func(v metaView) error {
		stored, err := v.project(projectID)
		if err != nil {
			return err
		}
		p = copyProject(stored)
		return nil
	})
	return p, err
}

// ProjectByPath returns the project whose full path equals path exactly
// (case-sensitive), or ErrNotFound.
func (s *Store) ProjectByPath(ctx context.Context, path string) (*jobartifacts.Project, error) {
	var p *jobartifacts.Project
	err := s.view(ctx, func(v metaView) error {
		projectID, ok, err := v.pathIndex(path)
		if err != nil {
			return err
		}
		var stored *jobartifacts.Project
		if ok {
			stored, err = v.project(projectID)
			if err != nil && !isNotFound(err) {
				return err
			}
		}
		if stored == nil || stored.PathWithNamespace != path {
			return errNotFound("project %q", path)
		}
		p = copyProject(stored)
		return nil
	})
	return p, err
}

// Job returns job jobID of project projectID, or ErrNotFound, also when the
// job belongs to another project.
func (s *Store) Job(ctx context.Context, projectID, jobID int64) (*jobartifacts.Job, error) {
	var j *jobartifacts.Job
	err := s.view(ctx, func(v metaView) error {
		stored, err := v.projectJob(projectID, jobID)
		if err != nil {
			return err
		}
		j, err = v.withPipeline(stored)
		return err
	})
	return j, err
}

// ProjectJob is Project and then Job in one read of the store's
// generation (jobartifacts.ProjectJobReader).
func (s *Store) ProjectJob(ctx context.Context, projectID, jobID int64) (*jobartifacts.Project, *jobartifacts.Job, error) {
	var p *jobartifacts.Project
	var j *jobartifacts.Job
	err := s.view(ctx, func(v metaView) error {
		r, err := v.projectAndJob(projectID, jobID)
		switch {
		case err == nil:
			p, j = copyProjectJob(r.project, r.job, r.pipeline)
		case r.project != nil && !errors.Is(err, errCacheMiss):
			p = copyProject(r.project)
		}
		return err
	})
	return p, j, err
}

// JobByID returns a job by its id alone, or ErrNotFound.
func (s *Store) JobByID(ctx context.Context, jobID int64) (*jobartifacts.Job, error) {
	var j *jobartifacts.Job
	err := s.view(ctx, func(v metaView) error {
		stored, err := v.job(jobID)
		if err != nil {
			return err
		}
		j, err = v.withPipeline(stored)
		return err
	})
	return j, err
}

// LatestSuccessfulJob takes the newest (highest id) pipeline of the project
// whose ref is ref and whose status is "success", and returns its job named
// name with the highest id, whatever that job's status. There is no fallback
// to older pipelines. It reads a few small files whatever the number of jobs.
func (s *Store) LatestSuccessfulJob(ctx context.Context, projectID int64, ref, name string) (*jobartifacts.Job, error) {
	var j *jobartifacts.Job
	err := s.view(ctx, func(v metaView) error {
		j = nil
		var latest *jobartifacts.Pipeline
		err := v.successfulPipelines(projectID, ref, 1, func(p *jobartifacts.Pipeline) (bool, error) {
			latest = p
			return true, nil
		})
		if err != nil {
			return err
		}
		if latest != nil {
			j, err = v.namedJob(latest, name, func(*jobartifacts.Job) bool { return true })
			if err != nil || j != nil {
				return err
			}
		}
		return errNotFound("latest successful job %q of ref %q in project %d", name, ref, projectID)
	})
	return j, err
}

// RecentSuccessfulJob searches the 100 newest successful pipelines of the
// ref, newest first, for a job named name whose status is "success" and that
// has an archive artifact. Within one pipeline the highest job id wins. It
// reads at most those 100 pipelines and their jobs of that name.
func (s *Store) RecentSuccessfulJob(ctx context.Context, projectID int64, ref, name string) (*jobartifacts.Job, error) {
	usable := func(j *jobartifacts.Job) bool {
		_, hasArchive := j.Archive()
		return j.Status == jobartifacts.StatusSuccess && hasArchive
	}
	var j *jobartifacts.Job
	err := s.view(ctx, func(v metaView) error {
		j = nil
		err := v.successfulPipelines(projectID, ref, recentPipelineWindow, func(p *jobartifacts.Pipeline) (bool, error) {
			var err error
			j, err = v.namedJob(p, name, usable)
			return j != nil, err
		})
		if err != nil || j != nil {
			return err
		}
		return errNotFound("recent successful job %q of ref %q in project %d", name, ref, projectID)
	})
	return j, err
}

// successfulPipelines calls visit with up to limit of the project's
// successful pipelines of ref, newest first, until visit returns true. Index
// entries whose pipeline is gone, or no longer successful on ref, are
// skipped and do not count.
func (v metaView) successfulPipelines(projectID int64, ref string, limit int, visit func(*jobartifacts.Pipeline) (bool, error)) error {
	path := v.s.refFile(projectID, ref)
	// Stale entries are rare (a crash mid-write): read a few more than
	// needed, and the rest of the index only if those were not enough.
	want := limit + 8
	ids, err := v.idLines(path, want)
	if err != nil {
		return err
	}
	visited := 0
	for i := 0; i < len(ids); i++ {
		if i == len(ids)-1 && len(ids) == want {
			if ids, err = v.idLines(path, 0); err != nil {
				return err
			}
			want = -1 // read in full
		}
		p, err := v.pipeline(projectID, ids[i])
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if p.Ref != ref || p.Status != jobartifacts.StatusSuccess {
			continue
		}
		done, err := visit(p)
		if err != nil || done {
			return err
		}
		if visited++; visited == limit {
			return nil
		}
	}
	return nil
}

// namedJob returns a copy of the pipeline's job named name, accepted by
// ok, with the highest id, or nil. p and the jobs ok sees are to read only.
func (v metaView) namedJob(p *jobartifacts.Pipeline, name string, ok func(*jobartifacts.Job) bool) (*jobartifacts.Job, error) {
	index, err := v.pipelineJobs(p.ProjectID, p.ID)
	if err != nil {
		return nil, err
	}
	for _, jobID := range index[name] { // highest id first
		j, err := v.job(jobID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if j.ProjectID != p.ProjectID || j.Pipeline.ID != p.ID || j.Name != name || !ok(j) {
			continue
		}
		return copyJob(j, p), nil
	}
	return nil, nil
}

// parseID reads "<id><suffix>", the name of a record or index file.
func parseID(name, suffix string) (int64, bool) {
	if isTemp(name) {
		return 0, false
	}
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}
