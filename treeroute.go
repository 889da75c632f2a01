package jobartifacts

import (
	"net/http"
	"strconv"
)

// listArtifactsTree is route 8: a page of the archive's directory listing,
// read from the zip's central directory.
func (h *Handler) listArtifactsTree(w http.ResponseWriter, r *http.Request, sc *requestScope) error {
	q := r.URL.Query()
	page, err := pageParams(q)
	if err != nil {
		return err
	}
	_, j, err := h.jobAccess(r, sc, ActionReadArtifacts, true)
	if err != nil {
		return err
	}
	if _, err := h.availableArchive(j); err != nil {
		return errTreeNoArtifacts
	}
	a, b, err := h.openArchive(r.Context(), j)
	if err != nil {
		return err
	}
	defer b.Close()
	recursive, _ := strconv.ParseBool(q.Get("recursive"))
	rows, err := h.treePage(w, r, a, b, q.Get("path"), recursive, page)
	if err != nil {
		return wrapNotFound(err, errPathNotFound, "archive tree")
	}
	writeJSON(w, http.StatusOK, rows)
	return nil
}
