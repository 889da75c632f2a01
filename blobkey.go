package jobartifacts

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// NewBlobKey returns a fresh, unique key for an artifact of the given type of
// a job: "projects/<id>/jobs/<id>/<type>-<16 random hex digits>". A fresh key
// per upload lets a new archive be written in full before the job's record
// points at it, so readers never see a half-written archive whatever the
// store, and keys are never reused, so blobs are write-once. fileType must be
// one of GitLab's artifact types (lower-case letters and underscores).
func NewBlobKey(projectID, jobID int64, fileType string) BlobKey {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return BlobKey(fmt.Sprintf("projects/%d/jobs/%d/%s-%s", projectID, jobID, fileType, hex.EncodeToString(b[:])))
}

// BlobKeyPrefix is the prefix of every key that NewBlobKey makes.
const BlobKeyPrefix = "projects/"

// ParseBlobKey returns the project and job ids that a key made by NewBlobKey
// names. ok is false for any other key.
func ParseBlobKey(key BlobKey) (projectID, jobID int64, ok bool) {
	rest, found := strings.CutPrefix(string(key), BlobKeyPrefix)
	if !found {
		return 0, 0, false
	}
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) != 4 || parts[1] != "jobs" || parts[3] == "" || strings.Contains(parts[3], "/") {
		return 0, 0, false
	}
	p, ok1 := parsePositiveInt(parts[0])
	j, ok2 := parsePositiveInt(parts[2])
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	return p, j, true
}
