package jobartifacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/ciartifacts/jobartifacts/internal/multipart"
)

// The runner routes, as GitLab's lib/api/ci/runner.rb serves them:
//
//	POST /jobs/:job_id/artifacts  (route 9)  a runner uploads a job's artifact
//	GET  /jobs/:job_id/artifacts  (route 10) a runner downloads a job's archive
//
// Both take a job token only (JOB-TOKEN header, token or job_token query
// parameter); personal tokens mean nothing here.

// Responses of the runner routes, as GitLab words them.
var (
	errArtifactExists   = newAPIError(http.StatusBadRequest, "another artifact of the same type already exists")
	errInvalidFormat    = newAPIError(http.StatusBadRequest, "Validation failed: Invalid file format with specified file type")
	errInvalidZip       = newAPIError(http.StatusBadRequest, "400 Bad request - invalid zip archive") // ours: GitLab's Workhorse words it its own way
	errJobNotRunning    = newAPIError(http.StatusForbidden, "403 Forbidden - Job is not running")
	errJobErased        = newAPIError(http.StatusForbidden, "403 Forbidden - Job has been erased!")
	errBadArtifactType  = &apiError{status: http.StatusBadRequest, key: "error", text: "artifact_type does not have a valid value"}
	errBadArtifactFmt   = &apiError{status: http.StatusBadRequest, key: "error", text: "artifact_format does not have a valid value"}
	errBadExpireIn      = &apiError{status: http.StatusBadRequest, key: "error", text: "expire_in is invalid"}
	errFileInvalid      = &apiError{status: http.StatusBadRequest, key: "error", text: "file is invalid"}
	errUploadBodyBroken = newAPIError(http.StatusBadRequest, "400 Bad request")
)

// Artifact formats (artifact_format).
const (
	ArtifactFormatZip  = "zip"
	ArtifactFormatGzip = "gzip"
	ArtifactFormatRaw  = "raw"
)

// multipartSlack is what a multipart body may carry beyond the file itself
// (boundaries, part headers, small fields) before a Content-Length alone
// proves the file too large.
const multipartSlack = 1 << 20

// artifactTypeFormat returns the one format GitLab accepts for an artifact
// type (Enums::Ci::JobArtifact.type_and_format_pairs), "" for "trace", which
// takes any, and known == false for a type GitLab does not have.
func artifactTypeFormat(fileType string) (format string, known bool) {
	switch fileType {
	case ArtifactTypeArchive, "lsif", "scip":
		return ArtifactFormatZip, true
	case ArtifactTypeTrace:
		return "", true
	case "metadata", "junit", "metrics", "metrics_referee", "network_referee", "dotenv",
		"cobertura", "jacoco", "cluster_applications", "cyclonedx", "annotations", "repository_xray":
		return ArtifactFormatGzip, true
	case "sast", "secret_detection", "dependency_scanning", "container_scanning",
		"cluster_image_scanning", "dast", "license_scanning", "accessibility", "codequality",
		"performance", "browser_performance", "load_performance", "terraform", "requirements",
		"requirements_v2", "coverage_fuzzing", "api_fuzzing", "sarif":
		return ArtifactFormatRaw, true
	default:
		return "", false
	}
}

func knownArtifactFormat(format string) bool {
	return format == ArtifactFormatZip || format == ArtifactFormatGzip || format == ArtifactFormatRaw
}

// runnerCredential is the job token of a runner request, in GitLab's order:
// the token parameter, the JOB-TOKEN header, then job_token.
func runnerCredential(r *http.Request) Credential {
	q := r.URL.Query()
	for _, t := range []string{q.Get("token"), r.Header.Get("Job-Token"), q.Get("job_token")} {
		if t != "" {
			return Credential{Kind: JobToken, Token: t}
		}
	}
	return Credential{}
}

// runnerJob looks up the :job_id of a runner route and its project.
func (h *Handler) runnerJob(ctx context.Context, r *http.Request) (*Job, *Project, error) {
	jobID, ok := parsePositiveInt(mux.Vars(r)["job_id"])
	if !ok {
		return nil, nil, errForbidden
	}
	j, err := h.store.JobByID(ctx, jobID)
	if err != nil {
		return nil, nil, wrapNotFound(err, errForbidden, "job")
	}
	p, err := h.store.Project(ctx, j.ProjectID)
	if err != nil {
		// GitLab: "Project has been deleted!"; a job without its project is gone.
		return nil, nil, wrapNotFound(err, errForbidden, "project of job")
	}
	return j, p, nil
}

// authorizeRunner asks the Authorizer at project level and then for the job;
// for a runner every refusal is 403, since runners give up on 403 and a 404
// could come from anywhere on the network (GitLab's authenticate_job!).
func (h *Handler) authorizeRunner(ctx context.Context, p Principal, action Action, project *Project, job *Job) error {
	for _, target := range []*Job{nil, job} {
		d, err := h.authz.Authorize(ctx, p, action, project, target)
		if err != nil {
			return fmt.Errorf("authorize %s: %w", action, err)
		}
		if !d.Allowed() {
			return forbiddenMessage(d.Message())
		}
	}
	return nil
}

// uploadParams are route 9's parameters, validated.
type uploadParams struct {
	fileType string
	format   string
	expireAt *time.Time
}

// uploadFormFields are the parameters a runner may send as multipart form
// fields as well as in the query. GitLab's params are Rack's GET merged
// with POST, so a form field wins over the query parameter of its name.
var uploadFormFields = map[string]bool{"artifact_type": true, "artifact_format": true, "expire_in": true}

// maxUploadFormField bounds the value of one such field.
const maxUploadFormField = 64 << 10

// declaredUploadParams reads artifact_type and artifact_format with their
// defaults and checks them against GitLab's lists, as Grape does before the
// endpoint runs.
func declaredUploadParams(v url.Values) (uploadParams, error) {
	p := uploadParams{fileType: v.Get("artifact_type"), format: v.Get("artifact_format")}
	if p.fileType == "" {
		p.fileType = ArtifactTypeArchive
	}
	if p.format == "" {
		p.format = ArtifactFormatZip
	}
	if _, known := artifactTypeFormat(p.fileType); !known {
		return p, errBadArtifactType
	}
	if !knownArtifactFormat(p.format) {
		return p, errBadArtifactFmt
	}
	return p, nil
}

// completeUploadParams applies the checks GitLab makes once the job is
// authenticated: the format must be the type's, and expire_in must parse.
func (h *Handler) completeUploadParams(p *uploadParams, v url.Values) error {
	if wantFormat, _ := artifactTypeFormat(p.fileType); wantFormat != "" && wantFormat != p.format {
		return errInvalidFormat
	}
	var err error
	p.expireAt, err = h.expireAt(v)
	return err
}

// mergedUploadParams is the query with the form fields read so far over it.
func mergedUploadParams(query, form url.Values) url.Values {
	merged := make(url.Values, len(query)+len(form))
	for k, vs := range query {
		merged[k] = vs
	}
	for k, vs := range form {
		merged[k] = vs
	}
	return merged
}

// uploadArtifact is route 9: a runner uploads one artifact file of its job.
// Parameters are checked first (400, as Grape does), then the job token
// (403), then the body is streamed into a fresh blob that becomes the job's
// artifact only once it is complete, within the size limit (413), a
// readable zip for archives (400) and not in conflict with an artifact of
// the same type (400). Answer: 201, body "201".
func (h *Handler) uploadArtifact(w http.ResponseWriter, r *http.Request, _ *requestScope) error {
	ctx := r.Context()
	// The query's parameters are checked before the body is read; form
	// fields, which win over them, once they arrive.
	q := r.URL.Query()
	params, err := declaredUploadParams(q)
	if err != nil {
		return err
	}

	job, project, err := h.authenticateUpload(ctx, w, r)
	if err != nil {
		return err
	}
	if err := h.completeUploadParams(&params, q); err != nil {
		return err
	}
	if limit := h.cfg.maxUploadSize; limit > 0 && r.ContentLength > limit+multipartSlack {
		return errTooLarge
	}

	up, err := h.receiveUpload(ctx, w, r, project, job, q)
	if err != nil {
		return err
	}
	if err := h.recordUpload(ctx, project, job, up); err != nil {
		return err
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", "3")
	setDigestedCacheControl(hdr, http.StatusCreated)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, "201")
	return nil
}

// authenticateUpload is GitLab's authenticate_job! for route 9: the job must
// exist and the token must be that job's, while it runs. Everything else is
// 403, a missing or unknown token included.
func (h *Handler) authenticateUpload(ctx context.Context, w http.ResponseWriter, r *http.Request) (*Job, *Project, error) {
	job, project, err := h.runnerJob(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	cred := runnerCredential(r)
	if cred.Kind == NoCredential {
		return nil, nil, errForbidden
	}
	p, err := h.authz.Authenticate(ctx, cred)
	switch {
	case errors.Is(err, ErrUnauthorized):
		return nil, nil, errForbidden
	case err != nil:
		return nil, nil, fmt.Errorf("authenticate: %w", err)
	case p == nil:
		return nil, nil, errForbidden
	}
	if err := h.authorizeRunner(ctx, p, ActionUploadArtifacts, project, job); err != nil {
		return nil, nil, err
	}
	// The Authorizer allowed it; GitLab's own rules about the job still hold.
	if job.ErasedAt != nil {
		return nil, nil, errJobErased
	}
	if job.Status != StatusRunning {
		w.Header().Set("Job-Status", job.Status)
		return nil, nil, errJobNotRunning
	}
	return job, project, nil
}

// expireAt turns the expire_in parameter into the artifact's expiry: the
// configured default when absent, nil for never.
func (h *Handler) expireAt(q map[string][]string) (*time.Time, error) {
	d, never := h.cfg.defaultExpiry, h.cfg.defaultExpiry <= 0
	if values, ok := q["expire_in"]; ok {
		var err error
		if d, never, err = ParseExpireIn(values[0]); err != nil {
			return nil, errBadExpireIn
		}
	}
	if never {
		return nil, nil
	}
	at := h.cfg.now().Add(d).UTC()
	return &at, nil
}

// receivedUpload is an uploaded file stored in a fresh blob, not yet recorded.
type receivedUpload struct {
	artifact Artifact
}

// receiveUpload streams the multipart body's one "file" part into a fresh
// blob, hashing and counting it on the way, with the parameters of the
// query and the form fields merged, and checks an archive's zip structure
// or a dotenv report's contents. On any failure the new blob is deleted.
func (h *Handler) receiveUpload(ctx context.Context, w http.ResponseWriter, r *http.Request, project *Project, job *Job, query url.Values) (*receivedUpload, error) {
	mediaType, mtParams, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" || mtParams["boundary"] == "" {
		return nil, missingParam("file")
	}
	body := r.Body
	if limit := h.cfg.maxUploadSize; limit > 0 {
		body = http.MaxBytesReader(w, body, limit+multipartSlack)
	}
	// Our reader, not mime/multipart's: it reads the file part straight
	// into the store's buffer instead of copying it through 4 KiB.
	mr := multipart.NewReader(body, mtParams["boundary"])

	var up *receivedUpload
	keep := false
	defer func() {
		if up != nil && !keep {
			h.discardBlob(ctx, up.artifact.Blob)
		}
	}()
	form := url.Values{}
	params := func() (uploadParams, error) {
		merged := mergedUploadParams(query, form)
		p, err := declaredUploadParams(merged)
		if err == nil {
			err = h.completeUploadParams(&p, merged)
		}
		return p, err
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, uploadBodyError(err)
		}
		if name := part.FormName(); name != "file" {
			if uploadFormFields[name] && part.FileName() == "" {
				value, err := io.ReadAll(io.LimitReader(part, maxUploadFormField+1))
				if err != nil {
					return nil, uploadBodyError(err)
				}
				if len(value) > maxUploadFormField {
					return nil, &apiError{status: http.StatusBadRequest, key: "error", text: name + " is invalid"}
				}
				form.Set(name, string(value)) // Rack: the last one wins
				continue
			}
			// Other fields (Workhorse's metadata, …) are read past.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, uploadBodyError(err)
			}
			continue
		}
		if up != nil || part.FileName() == "" {
			return nil, errFileInvalid
		}
		p, err := params()
		if err != nil {
			return nil, err
		}
		if up, err = h.storeUploadedFile(ctx, project, job, p, part); err != nil {
			return nil, err
		}
	}
	if up == nil {
		return nil, missingParam("file")
	}
	// Fields after the file still count: the blob is already stored, its
	// record not yet.
	final, err := params()
	if err != nil {
		return nil, err
	}
	up.artifact.FileType, up.artifact.FileFormat, up.artifact.ExpireAt = final.fileType, final.format, final.expireAt
	switch final.fileType {
	case ArtifactTypeArchive:
		if err := h.validateArchiveBlob(ctx, up.artifact); err != nil {
			return nil, err
		}
	case ArtifactTypeDotenv:
		if err := h.validateDotenvBlob(ctx, up.artifact); err != nil {
			return nil, err
		}
	}
	keep = true
	return up, nil
}

// validateDotenvBlob parses a stored dotenv report as GitLab does at upload.
func (h *Handler) validateDotenvBlob(ctx context.Context, a Artifact) error {
	b, err := h.store.OpenBlob(ctx, a.Blob)
	if err != nil {
		return fmt.Errorf("open uploaded dotenv report: %w", err)
	}
	defer b.Close()
	return checkDotenv(io.NewSectionReader(b, 0, a.Size), a.Size)
}

// storeUploadedFile writes one file part to a fresh blob.
func (h *Handler) storeUploadedFile(ctx context.Context, project *Project, job *Job, params uploadParams, part *multipart.Part) (*receivedUpload, error) {
	a := Artifact{
		FileType:   params.fileType,
		FileFormat: params.format,
		Filename:   part.FileName(),
		ExpireAt:   params.expireAt,
		Blob:       NewBlobKey(project.ID, job.ID, params.fileType),
	}
	src := &uploadReader{r: part, limit: h.cfg.maxUploadSize, mem: h.uploads, sum: sha256.New()}
	info, err := h.store.PutBlob(ctx, a.Blob, src)
	if err != nil {
		// PutBlob leaves nothing behind on error; deleting is for stores
		// that get that wrong.
		h.discardBlob(ctx, a.Blob)
		switch {
		case src.tooLarge:
			return nil, errTooLarge
		case src.readErr != nil:
			return nil, uploadBodyError(src.readErr)
		default:
			return nil, fmt.Errorf("store uploaded artifact: %w", err)
		}
	}
	if info.Size != src.n {
		h.discardBlob(ctx, a.Blob)
		return nil, fmt.Errorf("store uploaded artifact: stored %d bytes of %d", info.Size, src.n)
	}
	a.Size = info.Size
	a.SHA256 = hex.EncodeToString(src.SHA256())
	return &receivedUpload{artifact: a}, nil
}

// validateArchiveBlob checks that a stored archive is a zip whose central
// directory reads completely; only that directory is read, never the data.
func (h *Handler) validateArchiveBlob(ctx context.Context, a Artifact) error {
	b, err := h.store.OpenBlob(ctx, a.Blob)
	if err != nil {
		return fmt.Errorf("open uploaded archive: %w", err)
	}
	defer b.Close()
	if err := validateZipArchiveByWalk(ctx, b, a.Size); err != nil {
		if errors.Is(err, ErrInvalidArchive) {
			return errInvalidZip
		}
		return fmt.Errorf("validate uploaded archive: %w", err)
	}
	return nil
}

// recordUpload makes the stored blob the job's artifact, unless the job has
// an artifact of that type already: the same bytes are a successful no-op
// (GitLab's sha256_matches_existing_artifact?), other bytes a conflict. The
// store decides atomically (CreateArtifact), so two uploads racing on two
// replicas end as they do on one. The blob is deleted whenever it is not
// recorded.
func (h *Handler) recordUpload(ctx context.Context, project *Project, job *Job, up *receivedUpload) error {
	a := up.artifact
	// The body is in: a runner that leaves now must not cancel a commit
	// under way, whose outcome would then be unknown.
	current, err := h.store.CreateArtifact(context.WithoutCancel(ctx), project.ID, job.ID, a)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrConflict) && current != nil:
		h.discardBlob(ctx, a.Blob)
		for _, prev := range current.Artifacts {
			if prev.FileType == a.FileType && prev.SHA256 == a.SHA256 {
				return nil
			}
		}
		return errArtifactExists
	case isNotFound(err):
		h.discardBlob(ctx, a.Blob)
		return errForbidden
	default:
		// The record may have been written all the same (a connection lost
		// while a commit was acknowledged): only the queue, which checks
		// records before deleting, may remove the blob.
		if qerr := abandonBlob(ctx, h.store, a.Blob); qerr != nil {
			h.cfg.logger.WarnContext(ctx, "jobartifacts: queue unrecorded blob", "blob", string(a.Blob), "error", qerr)
		}
		return fmt.Errorf("record artifact: %w", err)
	}
}

// discardBlob deletes a blob that will not be recorded, even when the
// request was cancelled; failures only go to the log.
func (h *Handler) discardBlob(ctx context.Context, key BlobKey) {
	err := h.store.DeleteBlob(context.WithoutCancel(ctx), key)
	if err != nil && !isNotFound(err) {
		h.cfg.logger.WarnContext(ctx, "jobartifacts: discard uploaded blob", "blob", string(key), "error", err)
	}
}

// uploadBodyError answers a body that could not be read: 413 past the body
// limit, else 400.
func uploadBodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errTooLarge
	}
	return fmt.Errorf("%w: %w", errUploadBodyBroken, err)
}

// runnerDownloadArchive is route 10: a runner downloads the archive of a job
// its job depends on. The job token must be a running job's (401 without
// one or with an invalid one) that may read the job (403 otherwise, an
// unknown job included); a job without an archive is 404. With
// direct_download=true a store that hands out URLs redirects; otherwise
// the bytes are served, as GitLab proxies them.
func (h *Handler) runnerDownloadArchive(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	ctx := r.Context()
	cred := runnerCredential(r)
	p, err := h.authz.Authenticate(ctx, cred)
	switch {
	case errors.Is(err, ErrUnauthorized):
		return errUnauthorized
	case err != nil:
		return fmt.Errorf("authenticate: %w", err)
	case p == nil:
		return errUnauthorized
	}
	job, project, err := h.runnerJob(ctx, r)
	if err != nil {
		return err
	}
	if err := h.authorizeRunner(ctx, p, ActionReadArtifacts, project, job); err != nil {
		return err
	}
	if _, ok := job.Archive(); !ok {
		return errArtifactNotFound
	}
	direct, _ := strconv.ParseBool(r.URL.Query().Get("direct_download"))
	return h.serveArchive(w, r, sc, job, direct)
}
