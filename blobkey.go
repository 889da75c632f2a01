package jobartifacts

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// NewBlobKey returns a fresh, unique key for an artifact of the given type of
// a job: "projects/<id>/jobs/<id>/<type>-<16 random hex digits>". A fresh key
// per upload lets a new archive be written in full before the job's record
// points at it, so readers never see a half-written archive whatever the
// store. fileType must be one of GitLab's artifact types (lower-case letters
// and underscores).
func NewBlobKey(projectID, jobID int64, fileType string) BlobKey {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return BlobKey(fmt.Sprintf("projects/%d/jobs/%d/%s-%s", projectID, jobID, fileType, hex.EncodeToString(b[:])))
}
