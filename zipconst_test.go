package jobartifacts

import (
	"context"
	"io"

	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// Record signatures and lengths (APPNOTE 4.3) for the tests that write
// archives byte by byte; the parser's own live in internal/ziparchive.
const (
	zipLocalHeaderSignature   = 0x04034b50
	zipCentralHeaderSignature = ziparchive.CentralHeaderSignature
	zipDirectoryEndSignature  = 0x06054b50
	zip64DirectoryEndSig      = 0x06064b50
	zip64LocatorSignature     = 0x07064b50
	zip64DirectoryEnd         = 56
	zipExtraZip64             = ziparchive.ExtraZip64
	zipWalkBufferSize         = ziparchive.WalkBufferSize
)

// validateZipArchive is the upload validation without a context.
func validateZipArchive(ra io.ReaderAt, size int64) error {
	return validateZipArchiveByWalk(context.Background(), ra, size)
}
