package jobartifacts

import (
	"errors"
	"net/http"
)

// Routes 5 to 7: keep a job's artifacts, delete them, expire a
// project's.

// keepArtifacts is route 5: the job's artifacts stop expiring; the answer is
// GitLab's Job entity.
func (h *Handler) keepArtifacts(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	a, j, err := h.jobAccess(r, sc, ActionKeepArtifacts, false)
	if err != nil {
		return err
	}
	if _, err := h.availableArchive(j); err != nil {
		return err
	}
	// The store checks the archive again, atomically with the keep: a sweep
	// may have removed it since the check above.
	kept, err := h.store.KeepArtifacts(r.Context(), a.project.ID, j.ID, h.cfg.now())
	if errors.Is(err, ErrConflict) {
		return errArtifactNotFound
	}
	if err != nil {
		return wrapNotFound(err, errJobNotFound, "keep artifacts")
	}
	writeJSON(w, http.StatusOK, newJobEntity(a.project, kept, h.cfg.now()))
	return nil
}

// deleteJobArtifacts is route 6: every artifact of the job but its log goes,
// in one store call; their blobs are queued and deleted by the Sweeper after
// a grace period, so downloads under way stay whole. 204 also when there was
// nothing to delete.
func (h *Handler) deleteJobArtifacts(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	a, j, err := h.jobAccess(r, sc, ActionDeleteArtifacts, false)
	if err != nil {
		return err
	}
	if _, err := h.store.ForgetArtifacts(r.Context(), a.project.ID, j.ID, ArtifactTypeTrace); err != nil {
		return wrapNotFound(err, errJobNotFound, "delete artifacts")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteProjectArtifacts is route 7: every unkept artifact of the project
// expires now; the sweeper removes them later.
func (h *Handler) deleteProjectArtifacts(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	a, err := h.projectAccess(r, sc, ActionDeleteProjectArtifacts, false)
	if err != nil {
		return err
	}
	if err := h.store.ExpireProjectArtifacts(r.Context(), a.project.ID, h.cfg.now()); err != nil {
		return wrapNotFound(err, errProjectNotFound, "expire project artifacts")
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"message": "202 Accepted"})
	return nil
}
